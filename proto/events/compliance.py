"""Events of the compliance domain (stream AM_COMPLIANCE, subjects am.compliance.<aggregate>.<event>.<org_id>).

The compliance service adds its other events here; OptOutRecorded is consumed by outbound (cancel
what is still queued for the contact)."""

from __future__ import annotations

from typing import ClassVar

from proto.base import Event


class _Compliance(Event, frozen=True, kw_only=True):
    DOMAIN: ClassVar[str] = "compliance"


class OptOutRecorded(_Compliance, frozen=True, kw_only=True):
    """A contact revoked consent for the whole organization (STOP and synonyms, a plain-language
    request, or the API). Emitted by compliance."""

    AGGREGATE: ClassVar[str] = "contact"
    contact_number: str
    source: str
    """keyword | plain_language | api"""
    matched_rule: str = ""
    inbound_message_id: str = ""
