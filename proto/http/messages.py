"""API bodies: send a message, list messages."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from proto.api import E164, RFC3339_PATTERN, UUID, Limit

Url = Annotated[str, msgspec.Meta(max_length=2048, examples=["https://example.com/sms/status"])]
Time = Annotated[str, msgspec.Meta(max_length=40, pattern=RFC3339_PATTERN, description="RFC 3339 time with a zone",
                                   examples=["2026-06-11T12:00:00Z"])]


class SendMessageBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    from_: E164 = msgspec.field(name="from")
    """One of your numbers, on an approved 10DLC campaign."""
    to: E164
    """The recipient (not the sending number itself)."""
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1600, examples=["hello from agentmessage"],
                                      description="1-1,600 characters, not only white space; billed per segment")]
    status_callback_url: Url | None = None
    """Each status change is POSTed here (default: the sending number's status_callback_url), signed with
    X-AmCore-Signature."""
    category: Literal["transactional", "marketing", "conversational"] = "conversational"
    """transactional (one-time codes, alerts the contact asked for) is exempt from quiet hours only."""
    send_at: Time | None = None
    """Send later (up to 35 days ahead); the message is scheduled until then."""
    validity_seconds: Annotated[int, msgspec.Meta(ge=1, le=36000)] | None = None
    """A message not handed to the carrier this long after it is due fails as expired (default 36000)."""
    message_id: UUID | None = None
    """Your own id for the message: sending again with the same id returns the first message."""
    on_frequency_cap: Literal["reject", "defer"] | None = None
    """Over a frequency cap (FL/MD/OK law, or your own frequency_caps): reject (453 FREQUENCY_CAP naming
    details.next_allowed_at) or defer (accepted as scheduled for then). Default: the organization's
    frequency_cap_action (reject)."""


class ListMessagesQuery(msgspec.Struct, kw_only=True):
    limit: Limit = 20
    cursor: str | None = None
    status: Annotated[str, msgspec.Meta(
        max_length=200, description="One status or several, comma separated: scheduled, queued, sending, sent, "
        "delivered, undelivered, failed, canceled")] | None = None
    from_: E164 | None = msgspec.field(default=None, name="from")
    """Only messages from this number."""
    to: E164 | None = None
    """Only messages to this number."""
    created_after: Time | None = None
    """Only messages created at or after this time."""
    created_before: Time | None = None
    """Only messages created before this time."""
