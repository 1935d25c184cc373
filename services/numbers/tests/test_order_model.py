"""The NumberOrder aggregate, given / when / then: pure, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from libs.testing.decided import events, refusal
from proto.base import Event
from proto.events import numbers as E
from services.numbers import order_model as m

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ORG, OTHER = "org-1", "org-2"
NUMBERS = ["+14155550100", "+14155550101"]
PENDING = m.OrderState(id="o1", org_id=ORG, status="pending", numbers=tuple(NUMBERS), amount_micros=2_300_000,
                       created_at=NOW, version=1)
COMPLETED = replace(PENDING, status="completed", version=2)
FAILED = replace(PENDING, status="failed", version=2)


def fold(s: m.OrderState | None, evs: list[Event]) -> m.OrderState | None:
    for ev in evs:
        s = m.evolve_order(s, ev)
    return s


def test_an_order_placed_is_pending_with_its_numbers_and_price() -> None:
    (ev,) = events(m.decide_place(None, ORG, "o1", NUMBERS, 2_300_000, NOW))
    assert isinstance(ev, E.NumberOrderPlaced) and (ev.order_id, ev.numbers, ev.amount_micros) == (
        "o1", NUMBERS, 2_300_000)
    assert fold(None, [ev]) == replace(PENDING, version=0)


def test_an_order_id_taken_is_in_flight_for_its_organization_and_a_conflict_for_another() -> None:
    in_flight = refusal(m.decide_place(PENDING, ORG, "o1", NUMBERS, 1, NOW))
    assert (in_flight.code, in_flight.status) == ("IDEMPOTENCY_IN_FLIGHT", 409)
    assert refusal(m.decide_place(PENDING, OTHER, "o1", NUMBERS, 1, NOW)).code == "CONFLICT"


def test_a_pending_order_completes() -> None:
    (ev,) = events(m.decide_complete(PENDING, NOW))
    assert isinstance(ev, E.NumberOrderCompleted) and ev.order_id == "o1"
    after = fold(PENDING, [ev])
    assert after is not None and after.status == "completed"


def test_an_order_undone_while_its_process_waited_refuses_its_late_completion() -> None:
    # given an order a repeat or the sweeper took for dead and undid; when its process completes it late
    refused = refusal(m.decide_complete(FAILED, NOW))
    # then refused: 503, retry (nothing was ordered)
    assert (refused.code, refused.status) == ("SERVICE_TIMEOUT", 503)


def test_completing_a_completed_order_again_changes_nothing() -> None:
    assert events(m.decide_complete(COMPLETED, NOW)) == []


def test_a_pending_order_fails_with_its_reason() -> None:
    (ev,) = events(m.decide_fail(PENDING, "carrier", NOW))
    assert isinstance(ev, E.NumberOrderFailed) and ev.reason == "carrier"
    after = fold(PENDING, [ev])
    assert after is not None and after.status == "failed"


def test_a_completed_order_is_never_undone() -> None:
    assert refusal(m.decide_fail(COMPLETED, "abandoned", NOW)).code == "CONFLICT"


def test_undoing_an_order_undone_already_changes_nothing() -> None:
    assert events(m.decide_fail(FAILED, "abandoned", NOW)) == []


def test_credit_is_captured_once_for_a_completed_order_and_refunded_once_for_a_failed_one() -> None:
    (cap,) = events(m.decide_settle(COMPLETED, True, NOW))
    assert isinstance(cap, E.NumberOrderSettled) and cap.captured
    settled = fold(COMPLETED, [cap])
    assert settled is not None and settled.settled
    assert events(m.decide_settle(settled, True, NOW)) == []  # a repeat
    (ref,) = events(m.decide_settle(FAILED, False, NOW))
    assert isinstance(ref, E.NumberOrderSettled) and not ref.captured


def test_credit_is_not_settled_against_how_the_order_ended_nor_while_it_is_pending() -> None:
    assert refusal(m.decide_settle(FAILED, True, NOW)).code == "CONFLICT"
    assert refusal(m.decide_settle(COMPLETED, False, NOW)).code == "CONFLICT"
    assert refusal(m.decide_settle(PENDING, True, NOW)).code == "CONFLICT"


def test_events_of_no_order_leave_none() -> None:
    assert m.evolve_order(None, E.NumberOrderCompleted(org_id=ORG, order_id="o1", occurred_at=NOW)) is None
