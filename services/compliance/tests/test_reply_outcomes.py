"""A request's wait hears only its own message: outbound accepting it (queued or scheduled) settles it as
accepted, outbound's ReplyRefused as refused with the send path's error; the organization's other
messages change nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg

from proto.base import ErrorBody, Event
from proto.events import encode_event
from proto.events.outbound import MessageQueued, MessageScheduled, ReplyRefused
from services.compliance.replies import Outcome

ORG, MINE, OTHER = "org-1", "m-mine", "m-other"


def heard(*events: Event) -> Outcome:
    outcome = Outcome(MINE, asyncio.Event())
    for ev in events:
        outcome.hear(Msg(_client=None, subject="x", data=encode_event(ev)))  # type: ignore[arg-type]
    return outcome


def refused(mid: str, **error: Any) -> ReplyRefused:
    return ReplyRefused(org_id=ORG, message_id=mid, contact_number="+15551230000", kind="opt_in_request",
                        source_event_id="e-1", request_id="doi-1", error=ErrorBody(**error))


def test_another_message_settles_nothing() -> None:
    o = heard(MessageQueued(org_id=ORG, message_id=OTHER), refused(OTHER, code="INSUFFICIENT_CREDIT", message="no"))
    assert not o.settled.is_set() and not o.accepted and o.refused is None


def test_its_message_queued_or_scheduled_is_accepted() -> None:
    assert heard(MessageQueued(org_id=ORG, message_id=MINE)).accepted
    o = heard(MessageScheduled(org_id=ORG, message_id=MINE, send_at=datetime(2026, 6, 12, 9, tzinfo=UTC)))
    assert o.settled.is_set() and o.accepted and o.refused is None


def test_its_refusal_is_the_send_paths_error_and_the_first_word_stands() -> None:
    o = heard(refused(MINE, code="SENDING_NOT_ENABLED", message="this number cannot send yet", status=403,
                      details={"reason_code": "NO_CAMPAIGN"}), MessageQueued(org_id=ORG, message_id=MINE))
    assert o.settled.is_set() and not o.accepted and o.refused is not None
    assert (o.refused.code, o.refused.status, o.refused.details) == (
        "SENDING_NOT_ENABLED", 403, {"reason_code": "NO_CAMPAIGN"})
