"""The Message aggregate, given / when / then: given the events a message has had, when a command is
decided, then these events (or none, with the outcome saying why), and the status they leave. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from msgspec.structs import replace

from proto.base import Event
from proto.commands.compliance import Check, SendDecision
from proto.events import outbound as E
from proto.events.compliance import OptOutRecorded
from services.outbound import model
from services.outbound.commands import (
    Accept,
    ApplyReceipt,
    Cancel,
    CarrierRefused,
    Command,
    Dispatch,
    Expire,
    Promote,
    QuietHoursOff,
    ReceiptTimeout,
    RecordSent,
    Refused,
    RetrySubmission,
)
from services.outbound.rules import Receipt

T0 = datetime(2026, 6, 11, 12, 0, tzinfo=UTC)
ORG, MID, CLAIM = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-0000000000aa", "claim-1"
FACTS = E.MessageFacts(from_="+15550001111", to="+15550002222", text="hi", segments=1, encoding="GSM-7",
                     price_micros=7500, validity_seconds=3600, expires_at="2026-06-11T13:00:00.000Z")
DELIVRD = Receipt(carrier_message_id="c-1", status="DELIVRD", reference=MID)
UNDELIV = Receipt(carrier_message_id="c-1", status="UNDELIV", reference=MID, error_code="X1")


def new() -> model.Message:
    return model.Message(id=MID, org_id=ORG)


def given(*commands: Command, claim: str | None = None) -> model.Message:
    """A message after these commands (each must be decided into events), under the dispatcher's claim."""
    s = new()
    for cmd in commands:
        if isinstance(cmd, Dispatch | Refused | RetrySubmission | CarrierRefused):
            s = replace(s, claim_id=CLAIM)
        d = model.decide(s, cmd)
        assert d.events, (cmd, d)
        s = model.fold(s, d.events)
    return replace(s, claim_id=claim) if claim else s


QUEUED: tuple[Command, ...] = (Accept(FACTS, T0),)
SENDING = (*QUEUED, Dispatch(1, CLAIM))
SENT = (*SENDING, RecordSent("c-1"))


def when(s: model.Message, cmd: Command) -> tuple[model.Decision, model.Message]:
    d = model.decide(s, cmd)
    return d, model.fold(s, d.events)


def types(d: model.Decision) -> list[type[Event]]:
    return [type(e) for e in d.events]


# -- accept ------------------------------------------------------------------------------------------
def test_accepted_now_is_queued_with_its_facts() -> None:
    d, s = when(new(), Accept(FACTS, T0))
    assert types(d) == [E.MessageQueued]
    assert (s.status, s.version, s.from_number, s.price_micros, s.next_attempt_at) == ("queued", 1, FACTS.from_,
                                                                                        7500, T0)
    assert s.expires_at == datetime(2026, 6, 11, 13, 0, tzinfo=UTC) and s.created_at == T0


def test_accepted_for_later_is_scheduled_with_why_and_what_deferred_it() -> None:
    later = T0 + timedelta(hours=3)
    d, s = when(new(), Accept(FACTS, T0, later, "quiet hours until 15:00", "quiet_hours"))
    assert types(d) == [E.MessageScheduled]
    assert (s.status, s.status_reason, s.next_attempt_at, s.deferred_by) == (
        "scheduled", "quiet hours until 15:00", later, "quiet_hours")


def test_an_id_taken_is_not_accepted_twice() -> None:
    d, _ = when(given(*QUEUED), Accept(FACTS, T0))
    assert d.changes_nothing and d.outcome == "exists"


# -- promote -----------------------------------------------------------------------------------------
def test_a_scheduled_message_joins_the_queue_when_its_time_comes() -> None:
    s = given(Accept(FACTS, T0, T0 + timedelta(minutes=5), "send_at"))
    assert when(s, Promote(T0 + timedelta(minutes=4)))[0].outcome == "not_due"
    d, after = when(s, Promote(T0 + timedelta(minutes=5)))
    assert types(d) == [E.MessageQueued]
    assert (after.status, after.status_reason, after.next_attempt_at) == ("queued", "send time reached",
                                                                          T0 + timedelta(minutes=5))


# -- dispatch ----------------------------------------------------------------------------------------
def test_dispatch_under_our_claim_makes_it_sending_and_keeps_the_lease() -> None:
    d, s = when(given(*QUEUED, claim=CLAIM), Dispatch(1, CLAIM, "dec-1"))
    assert types(d) == [E.MessageSending] and s.status == "sending" and s.attempts == 1
    assert s.claim_id == CLAIM and s.status_reason is None


def test_a_resubmission_is_sending_again_with_its_attempt() -> None:
    d, s = when(given(*SENDING, claim=CLAIM), Dispatch(2, CLAIM))
    assert types(d) == [E.MessageSending] and (s.status, s.status_reason, s.attempts) == ("sending", "attempt 2", 2)


def test_dispatch_without_our_claim_or_after_a_cancel_does_nothing() -> None:
    assert when(given(*QUEUED, claim="other"), Dispatch(1, CLAIM))[0].outcome == "not_claimed"
    canceled = given(*QUEUED, Cancel(model.CANCELED_BY_USER, model.CANCELED_BY_USER))
    assert when(replace(canceled, claim_id=CLAIM), Dispatch(1, CLAIM))[0].outcome == "moved_on"


def test_the_final_check_defers_to_quiet_hours() -> None:
    until = "2026-06-11T20:00:00.000Z"
    decision = SendDecision(decision="defer", defer_until=until, reason="quiet hours",
                            checks=[Check(name="quiet_hours", result="defer")])
    d, s = when(given(*QUEUED, claim=CLAIM), Refused(decision, T0, CLAIM))
    assert types(d) == [E.MessageScheduled] and s.status == "scheduled" and s.deferred_by == "quiet_hours"
    assert s.next_attempt_at == datetime(2026, 6, 11, 20, tzinfo=UTC) and s.claim_id is None
    assert s.expires_at == s.next_attempt_at + timedelta(seconds=FACTS.validity_seconds)


def test_the_final_check_finds_an_opt_out_cancels_and_refunds() -> None:
    decision = SendDecision(decision="deny", code="RECIPIENT_OPTED_OUT", status=453, reason="opted out")
    d, s = when(given(*QUEUED, claim=CLAIM), Refused(decision, T0, CLAIM))
    [ev] = d.events
    assert isinstance(ev, E.MessageCanceled) and ev.reservation_id == MID and ev.code == "RECIPIENT_OPTED_OUT"
    assert (s.status, s.error_code) == ("canceled", "RECIPIENT_OPTED_OUT")


def test_the_final_check_denies_for_another_reason_fails_and_refunds() -> None:
    decision = SendDecision(decision="deny", code="CONSENT_REQUIRED", status=453, reason="no consent")
    d, s = when(given(*QUEUED, claim=CLAIM), Refused(decision, T0, CLAIM))
    [ev] = d.events
    assert isinstance(ev, E.MessageFailed) and not ev.reached_carrier and ev.reservation_id == MID
    assert (s.status, s.error_code, s.status_reason) == ("failed", "CONSENT_REQUIRED", "no consent")


def test_a_transient_carrier_failure_is_retried_later_still_sending() -> None:
    at = T0 + timedelta(seconds=4)
    d, s = when(given(*SENDING, claim=CLAIM), RetrySubmission(1, at, CLAIM, "timeout"))
    assert types(d) == [E.MessageSubmissionRetried] and not model.changes_status(d.events[0])
    assert (s.status, s.next_attempt_at, s.claim_id) == ("sending", at, None)


def test_no_final_check_answer_postpones_without_an_event() -> None:
    d, _ = when(given(*QUEUED, claim=CLAIM), RetrySubmission(1, T0, CLAIM, None))
    assert d.changes_nothing and d.outcome == "postponed"


@pytest.mark.parametrize("code", ["CARRIER_REJECTED", "SUBMISSION_UNCONFIRMED"])
def test_a_carrier_refusal_or_an_unconfirmed_submission_fails_and_refunds(code: str) -> None:
    d, s = when(given(*SENDING, claim=CLAIM), CarrierRefused(code, "the carrier refused", CLAIM))
    [ev] = d.events
    assert isinstance(ev, E.MessageFailed) and ev.reservation_id == MID and not ev.reached_carrier
    assert (s.status, s.error_code) == ("failed", code)


# -- sent and receipts -------------------------------------------------------------------------------
def test_the_carrier_took_it() -> None:
    d, s = when(given(*SENDING), RecordSent("c-1"))
    [ev] = d.events
    assert isinstance(ev, E.MessageSent) and ev.reservation_id == MID  # (accounts captures the credit)
    assert (s.status, s.carrier_message_id, s.claim_id) == ("sent", "c-1", None)


@pytest.mark.parametrize(("receipt", "status", "event"), [(DELIVRD, "delivered", E.MessageDelivered),
                                                           (UNDELIV, "undelivered", E.MessageUndelivered)])
def test_a_final_receipt_ends_a_sent_message(receipt: Receipt, status: str, event: type[Event]) -> None:
    d, s = when(given(*SENT), ApplyReceipt(receipt))
    assert types(d) == [event] and s.status == status and d.outcome == "applied"
    if status == "undelivered":
        assert (s.error_code, s.status_reason) == ("X1", "carrier receipt UNDELIV (X1)")


def test_a_duplicate_receipt_changes_nothing() -> None:
    s = given(*SENT, ApplyReceipt(DELIVRD))
    d, after = when(s, ApplyReceipt(DELIVRD))
    assert d.changes_nothing and d.outcome == "ignored_terminal" and after == s


def test_an_out_of_order_receipt_after_a_final_one_changes_nothing() -> None:
    s = given(*SENT, ApplyReceipt(DELIVRD))
    assert when(s, ApplyReceipt(UNDELIV))[0].outcome == "ignored_terminal"
    assert when(given(*SENT), ApplyReceipt(replace(DELIVRD, status="ENROUTE")))[0].outcome == "not_final"


def test_a_receipt_before_sent_is_held_and_applied_when_sent() -> None:
    sending = given(*SENDING)
    d, _ = when(sending, ApplyReceipt(DELIVRD))
    assert d.changes_nothing and d.outcome == "held"
    held = model.hold(sending, DELIVRD)
    assert when(held, ApplyReceipt(DELIVRD))[0].outcome == "duplicate_held"
    d, s = when(held, RecordSent("c-1"))
    assert types(d) == [E.MessageSent, E.MessageDelivered] and s.status == "delivered" and s.held is None


def test_a_held_receipt_proves_a_queued_message_reached_the_carrier() -> None:
    d, s = when(model.hold(given(*QUEUED), DELIVRD), RecordSent("c-1"))
    assert types(d) == [E.MessageSending, E.MessageSent, E.MessageDelivered] and s.status == "delivered"
    assert model.fold(given(*QUEUED), d.events[:1]).status_reason == "the carrier's receipt shows it has it"


# -- expiry and receipt timeout ----------------------------------------------------------------------
def test_a_message_not_handed_over_within_its_validity_expires_and_is_refunded() -> None:
    s = given(*QUEUED)
    assert when(s, Expire(T0 + timedelta(minutes=59)))[0].outcome == "valid"
    d, after = when(s, Expire(T0 + timedelta(hours=1)))
    [ev] = d.events
    assert isinstance(ev, E.MessageFailed) and ev.error_code == "EXPIRED" and ev.reservation_id == MID
    assert after.status == "failed"


def test_expiry_leaves_a_message_a_dispatcher_holds_and_one_already_sent() -> None:
    late = T0 + timedelta(hours=2)
    claimed = replace(given(*QUEUED), claim_id="other", claimed_until=late + timedelta(seconds=5))
    assert when(claimed, Expire(late))[0].outcome == "claimed"
    assert when(replace(claimed, claim_id=CLAIM), Expire(late, CLAIM))[0].outcome == "failed"
    assert when(given(*SENT), Expire(late))[0].outcome == "moved_on"


def test_an_expired_message_with_a_held_receipt_was_sent() -> None:
    d, s = when(model.hold(given(*SENDING), DELIVRD), Expire(T0 + timedelta(hours=2)))
    assert types(d) == [E.MessageSent, E.MessageDelivered] and s.status == "delivered"


def test_no_receipt_within_the_timeout_ends_undelivered_credit_kept() -> None:
    s = replace(given(*SENT), updated_at=T0)
    assert when(s, ReceiptTimeout(T0 + timedelta(seconds=59), 60))[0].outcome == "waiting"
    d, after = when(s, ReceiptTimeout(T0 + timedelta(seconds=60), 60))
    [ev] = d.events
    assert isinstance(ev, E.MessageUndelivered) and ev.error_code == "DELIVERY_UNCONFIRMED"
    assert (after.status, after.error_code) == ("undelivered", "DELIVERY_UNCONFIRMED")
    assert when(after, ApplyReceipt(DELIVRD))[0].outcome == "ignored_terminal"  # a late receipt changes nothing


# -- cancel in each status ---------------------------------------------------------------------------
USER = Cancel(model.CANCELED_BY_USER, model.CANCELED_BY_USER)


@pytest.mark.parametrize("history", [QUEUED, (Accept(FACTS, T0, T0 + timedelta(hours=1), "send_at"),)])
def test_a_pending_message_is_canceled_and_refunded(history: tuple[Command, ...]) -> None:
    d, s = when(given(*history), USER)
    [ev] = d.events
    assert isinstance(ev, E.MessageCanceled) and ev.reservation_id == MID and ev.code == model.CANCELED_BY_USER
    assert (s.status, s.error_code) == ("canceled", model.CANCELED_BY_USER)


@pytest.mark.parametrize("history", [SENDING, SENT, (*SENT, ApplyReceipt(DELIVRD)), (*SENT, ApplyReceipt(UNDELIV)),
                                     (*SENDING, CarrierRefused("CARRIER_REJECTED", "no", CLAIM))])
def test_a_message_at_or_past_the_carrier_cannot_be_canceled(history: tuple[Command, ...]) -> None:
    s = given(*history)
    d, _ = when(s, USER)
    assert d.changes_nothing and d.outcome == "not_cancelable" and s.status in d.reason


def test_a_second_cancel_answers_the_canceled_message() -> None:
    assert when(given(*QUEUED, USER), USER)[0].outcome == "already_canceled"


def test_an_opt_out_cancels_all_but_its_own_confirmation() -> None:
    stop = OptOutRecorded(org_id=ORG, contact_number=FACTS.to, source="keyword")
    cancel = Cancel(model.RECIPIENT_OPTED_OUT, "the recipient opted out", stop, stop.event_id)
    d, _ = when(given(*QUEUED), cancel)
    [ev] = d.events
    assert isinstance(ev, E.MessageCanceled) and ev.opt_out_event_id == stop.event_id
    assert ev.causation_id == stop.event_id
    confirmation = given(Accept(replace_facts(kind="opt_out_confirmation"), T0))
    assert when(confirmation, cancel)[0].outcome == "exempt"


def replace_facts(**kw: object) -> E.MessageFacts:
    return replace(FACTS, **kw)


# -- quiet hours turned off --------------------------------------------------------------------------
def test_quiet_hours_off_releases_what_they_alone_held() -> None:
    policy = OptOutRecorded(org_id=ORG, contact_number="x", source="api")  # (any event as the cause)
    held = given(Accept(FACTS, T0, T0 + timedelta(hours=8), "quiet hours", "quiet_hours"))
    d, s = when(held, QuietHoursOff(T0 + timedelta(minutes=1), policy))
    assert types(d) == [E.MessageQueued] and s.status == "queued" and s.deferred_by is None
    assert s.next_attempt_at == T0 + timedelta(minutes=1)
    assert s.expires_at == T0 + timedelta(minutes=1, seconds=FACTS.validity_seconds)
    both = given(Accept(FACTS, T0, T0 + timedelta(hours=8), "held", "quiet_hours,frequency_cap"))
    assert when(both, QuietHoursOff(T0, policy))[0].outcome == "not_held"


def test_quiet_hours_off_keeps_a_later_send_at() -> None:
    policy = OptOutRecorded(org_id=ORG, contact_number="x", source="api")
    facts = replace_facts(send_at="2026-06-11T14:00:00.000Z")
    held = given(Accept(facts, T0, T0 + timedelta(hours=8), "quiet hours", "quiet_hours"))
    d, s = when(held, QuietHoursOff(T0, policy))
    assert types(d) == [E.MessageScheduled] and s.next_attempt_at == datetime(2026, 6, 11, 14, tzinfo=UTC)


# -- the status machine holds for every decision -----------------------------------------------------
def test_every_status_change_decided_is_a_legal_transition() -> None:
    histories = [QUEUED, SENDING, SENT, (*SENT, ApplyReceipt(DELIVRD)), (*QUEUED, USER)]
    commands: list[Command] = [Promote(T0 + timedelta(days=1)), Dispatch(2, CLAIM), RecordSent("c-2"),
                               ApplyReceipt(UNDELIV), Expire(T0 + timedelta(days=1)), USER,
                               ReceiptTimeout(T0 + timedelta(days=1), 1)]
    for history in histories:
        for cmd in commands:
            s = replace(given(*history), claim_id=CLAIM)
            for ev in model.decide(s, cmd).events:
                after = model.evolve(s, ev)
                assert after.status == s.status or model.can_transition(s.status, after.status), (s.status, ev)
                s = after
