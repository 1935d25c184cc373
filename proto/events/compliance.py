"""Events of the compliance domain (stream AM_COMPLIANCE, subjects am.compliance.<aggregate>.<event>.<org_id>)."""

from __future__ import annotations

from proto.base import Event
