"""The NumberOrder aggregate, pure (the rest of numbers' aggregates are in ``model.py``): an order is
placed (its numbers claimed), then completed (each number the organization's) or failed (undone: nothing
ordered), then its credit settled — captured when completed, refunded when failed. ``decide_*`` answers
the events or the refusal as a ``CommandError`` value; ``evolve`` the state after an event. No I/O.

A failed order never completes: its process may still be waiting on the carrier when a repeat or the
sweeper takes it for dead and undoes it, and its late completion is refused (503 SERVICE_TIMEOUT: retry).
A completed order is never undone."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from proto.base import CommandError, Event
from proto.events.numbers import (
    NumberOrderCompleted,
    NumberOrderFailed,
    NumberOrderPlaced,
    NumberOrderSettled,
)
from services.numbers.model import Decided

OrderStatus = Literal["pending", "completed", "failed"]


@dataclass(frozen=True)
class OrderState:
    id: str
    org_id: str
    status: OrderStatus
    numbers: tuple[str, ...]
    amount_micros: int
    created_at: datetime
    settled: bool = False
    """Its credit captured (completed) or refunded (failed)."""
    version: int = 0


def evolve_order(s: OrderState | None, ev: Event) -> OrderState | None:
    match ev:
        case NumberOrderPlaced():
            return OrderState(id=ev.order_id, org_id=ev.org_id, status="pending", numbers=tuple(ev.numbers),
                              amount_micros=ev.amount_micros, created_at=ev.occurred_at)
    if s is None:
        return None
    match ev:
        case NumberOrderCompleted():
            return replace(s, status="completed")
        case NumberOrderFailed():
            return replace(s, status="failed")
        case NumberOrderSettled():
            return replace(s, settled=True)
    return s


def in_flight() -> CommandError:
    return CommandError("IDEMPOTENCY_IN_FLIGHT", "this order is still being placed; retry shortly", 409,
                        {"retry_after_s": 2})


def undone() -> CommandError:
    return CommandError("SERVICE_TIMEOUT", "the order took too long and was undone: nothing was ordered and the"
                        " credit was refunded; retry", 503)


def decide_place(existing: OrderState | None, org_id: str, order_id: str, numbers: list[str], amount_micros: int,
                 now: datetime) -> Decided:
    """A new order; one under an id that is taken is still being placed (409, retry) or another
    organization's (a conflict). (A repeat of a completed or failed order never gets here: the process
    answers the completed one, and orders anew under a new id for a failed one.)"""
    if existing is not None:
        return in_flight() if existing.org_id == org_id else CommandError("CONFLICT", "order_id: already used", 409)
    return [NumberOrderPlaced(org_id=org_id, order_id=order_id, numbers=list(numbers), amount_micros=amount_micros,
                              occurred_at=now)]


def decide_complete(s: OrderState, now: datetime) -> Decided:
    """The carrier assigned the numbers: completed. Refused when the order was undone meanwhile (503: it
    was taken for dead while its process waited); a repeat changes nothing."""
    if s.status == "failed":
        return undone()
    if s.status == "completed":
        return []
    return [NumberOrderCompleted(org_id=s.org_id, order_id=s.id, occurred_at=now)]


def decide_fail(s: OrderState, reason: str, now: datetime) -> Decided:
    """Undone: nothing ordered. A completed order is left alone (refused); one undone already changes
    nothing."""
    if s.status == "completed":
        return CommandError("CONFLICT", "the order completed: it is not undone", 409)
    if s.status == "failed":
        return []
    return [NumberOrderFailed(org_id=s.org_id, order_id=s.id, reason=reason, occurred_at=now)]


def decide_settle(s: OrderState, captured: bool, now: datetime) -> Decided:
    """The credit settled once, as the order ended: captured when completed, refunded when failed; a
    repeat changes nothing."""
    if s.settled:
        return []
    if s.status == "pending" or captured != (s.status == "completed"):
        verb = "captured" if captured else "refunded"
        return CommandError("CONFLICT", f"the credit of a {s.status} order is not {verb}", 409)
    return [NumberOrderSettled(org_id=s.org_id, order_id=s.id, captured=captured, occurred_at=now)]
