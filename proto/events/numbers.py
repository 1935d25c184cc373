"""Events of the numbers domain (stream AM_NUMBERS, subjects am.numbers.<aggregate>.<event>.<org_id>)."""

from __future__ import annotations

from proto.base import Event
