"""Events of the outbound domain (stream AM_OUTBOUND, subjects am.outbound.<aggregate>.<event>.<org_id>)."""

from __future__ import annotations

from proto.base import Event
