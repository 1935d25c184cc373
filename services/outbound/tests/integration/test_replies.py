"""Replies by event: the texts compliance records (ReplyIssued, DoubleOptInRequested) go out because
outbound consumes them, each once under the message id compliance chose."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from proto.base import Event, utcnow
from proto.events import encode_event
from proto.events.compliance import DoubleOptInRequested, ReplyIssued
from services.outbound.tests.integration.harness import Pipe, handset


async def publish(p: Pipe, ev: Event) -> None:
    await p.nc.jetstream().publish(p.subjects.of(type(ev), p.org_id), encode_event(ev),
                                   headers={"Nats-Msg-Id": ev.event_id})


async def test_a_recorded_reply_is_sent_once(make_pipe: Any) -> None:
    p: Pipe = await make_pipe({})
    await p.onboard()
    to, mid = handset(), str(uuid.uuid4())
    # given: compliance recorded a STOP's confirmation (and, later, the same reply again under its id)
    reply = ReplyIssued(org_id=p.org_id, contact_number=to, kind="opt_out_confirmation", message_id=mid,
                        from_number=p.number, text="You are unsubscribed. No more messages.")
    await publish(p, reply)
    await publish(p, msgspec.structs.replace(reply, event_id=str(uuid.uuid4())))
    # then: outbound sent it, as compliance's kind, once
    await p.system.eventually(lambda: exists(p, mid))
    final = await p.until_terminal([mid])
    assert final[mid]["status"] == "delivered" and final[mid]["kind"] == "opt_out_confirmation", final
    assert [m["text"] for m in await p.inbox(to)] == [reply.text]
    checks = [c for c in p.fakes.checks if c.message_id == mid]
    assert {c.kind for c in checks} == {"opt_out_confirmation"} and {c.category for c in checks} == {"transactional"}


async def test_a_double_opt_in_text_is_sent_from_its_event(make_pipe: Any) -> None:
    p: Pipe = await make_pipe({})
    await p.onboard()
    to, mid = handset(), str(uuid.uuid4())
    ev = DoubleOptInRequested(org_id=p.org_id, request_id=str(uuid.uuid4()), contact_number=to,
                              phone_number_id=str(uuid.uuid4()), from_number=p.number,
                              confirmation_text="Reply YES to confirm.", message_id=mid,
                              expires_at=datetime(2026, 6, 12, 12, tzinfo=UTC))
    await publish(p, ev)
    await p.system.eventually(lambda: exists(p, mid))
    final = await p.until_terminal([mid])
    assert final[mid]["kind"] == "opt_in_request" and final[mid]["category"] == "conversational", final
    assert [m["text"] for m in await p.inbox(to)] == ["Reply YES to confirm."]


async def exists(p: Pipe, mid: str) -> bool:
    status, _, _ = await p.call("GET", f"/v1/messages/{mid}")
    return status == 200


async def test_a_reply_read_too_late_answers_nothing(make_pipe: Any) -> None:
    p: Pipe = await make_pipe({"AM_REPLY_MAX_AGE_S": "600"})
    await p.onboard()
    to, stale, fresh = handset(), str(uuid.uuid4()), str(uuid.uuid4())
    # given: a HELP reply recorded an hour ago (outbound was down since), then a fresh one
    for mid, at in ((stale, utcnow() - timedelta(hours=1)), (fresh, utcnow())):
        await publish(p, ReplyIssued(org_id=p.org_id, contact_number=to, kind="help_reply", message_id=mid,
                                     from_number=p.number, text=f"help {mid}", occurred_at=at))
    # then: the fresh one goes; the stale one, read before it, is not sent
    await p.system.eventually(lambda: exists(p, fresh))
    assert not await exists(p, stale)


async def test_a_refused_text_is_recorded_once(make_pipe: Any) -> None:
    p: Pipe = await make_pipe({})
    await p.onboard()
    # given: the number cannot send yet
    p.fakes.senders[(p.org_id, p.number)] = msgspec.structs.replace(
        p.fakes.senders[(p.org_id, p.number)], sending_enabled=False, reason_code="NO_CAMPAIGN")
    to, mid, request_id = handset(), str(uuid.uuid4()), str(uuid.uuid4())
    ev = DoubleOptInRequested(org_id=p.org_id, request_id=request_id, contact_number=to,
                              phone_number_id=str(uuid.uuid4()), from_number=p.number,
                              confirmation_text="Reply YES to confirm.", message_id=mid,
                              expires_at=utcnow() + timedelta(hours=24))
    await publish(p, ev)
    # then: outbound records its refusal, with the error the send path gave and the double opt-in's id
    assert await p.system.eventually(lambda: refusals(p, mid)) == [("SENDING_NOT_ENABLED", 403, request_id)]
    # and the same text asked again (a redelivery) adds nothing: a later refusal marks the point
    await publish(p, msgspec.structs.replace(ev, event_id=str(uuid.uuid4())))
    marker = str(uuid.uuid4())
    await publish(p, ReplyIssued(org_id=p.org_id, contact_number=to, kind="help_reply", message_id=marker,
                                 from_number=p.number, text="help"))
    await p.system.eventually(lambda: refusals(p, marker))
    assert await refusals(p, mid) == [("SENDING_NOT_ENABLED", 403, request_id)]
    assert not await exists(p, mid)


async def refusals(p: Pipe, mid: str) -> list[tuple[str, int, str]]:
    rows = await p.system.services["outbound"].pool.fetch(
        "SELECT data -> 'error' ->> 'code' AS code, (data -> 'error' ->> 'status')::int AS status,"
        " data ->> 'request_id' AS request_id FROM events WHERE stream_id = $1 AND event_type = 'ReplyRefused'",
        f"reply-{mid}")
    return [(r["code"], r["status"], r["request_id"]) for r in rows]
