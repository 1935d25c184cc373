"""Events of the inbound domain (stream AM_INBOUND, subjects am.inbound.<aggregate>.<event>.<org_id>)."""

from __future__ import annotations

from proto.base import Event
