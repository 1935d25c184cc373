"""Append-only event store keyed by (stream id, version), with a global position; the outbox too.

Every write is a ``Write`` (libs/store/write.py): the events of one or many streams, each at the
version its writer read, the projections (read-model statements) that go with them, and what the write
answers — run as ONE statement, with the relay's wake-up inside it. Parameters are named in
``sql`` fragments (libs/store/query.py); the library numbers them. For example, holding credit::

    from libs.store import Write, sql

    w = (Write()
         .project(sql("UPDATE balances SET available_micros = available_micros - :amount"
                      " WHERE org_id = :org AND available_micros >= :amount RETURNING available_micros",
                      amount=amount, org=org_id), name="bal")
         .project(sql("INSERT INTO reservations (id, org_id, amount_micros) SELECT :id, :org, :amount FROM bal",
                      id=reservation_id, org=org_id, amount=amount))
         .append(f"reservation-{reservation_id}", 0, [CreditReserved(...)])
         .only_where(sql("EXISTS (SELECT 1 FROM bal)"))  # no event when the balance was short
         .returning(sql("SELECT (SELECT available_micros FROM bal) AS balance")))
    rows = await store.write(w)              # its own transaction: one round trip
    async with store.transaction() as conn:  # or with other reads and writes, in the caller's
        await store.write(w, conn)

A stream that moved past its expected version fails the write with ``ConcurrencyError`` (nothing of
it is written; inside a transaction the caller rolls back and decides again).

The relay's waker is injected (``Waker``): while this process's relay leads, a write wakes it directly
after commit instead of a NOTIFY, for every notifying commit takes one database-wide lock in PostgreSQL,
and under load a NOTIFY per write serialises the commits of every service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import asyncpg
import msgspec

from libs.obs.metrics import EVENTS_APPENDED
from libs.obs.tracing import current_traceparent
from libs.store.write import ConcurrencyError, EventRow, Write
from proto.base import Event
from proto.events import decode_event, encode_event
from proto.subjects import Subjects

_INSERT = (
    "INSERT INTO events (stream_id, version, event_id, event_type, subject, org_id, data, headers)"
    " VALUES ($1, $2, $3::uuid, $4, $5, $6, $7::json, $8::json)"
)


def _notify_sql(param: int) -> str:
    """Wakes a relay in another process; the channel is '' when this process's relay leads (see
    ``EventStore.notify_channel``)."""
    return f"CASE WHEN ${param}::text <> '' THEN pg_notify(${param}, '') END"


NOTIFY_9 = _notify_sql(9)

_APPEND_MANY = (
    "WITH ins AS (INSERT INTO events (stream_id, version, event_id, event_type, subject, org_id, data, headers)"
    " SELECT $1, $2 + u.i, u.e, u.t, u.s, u.o, u.d::json, u.h::json"
    " FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])"
    " WITH ORDINALITY AS u(e, t, s, o, d, h, i) RETURNING 1)"
    f" SELECT (SELECT count(*) FROM ins) AS n, {NOTIFY_9}"
)
_APPEND_ONE = (
    f"WITH ins AS ({_INSERT} ON CONFLICT (stream_id, version) DO NOTHING RETURNING 1)"
    f" SELECT (SELECT count(*) FROM ins) AS n, {NOTIFY_9}"
)


__all__ = ["ConcurrencyError", "EventStore", "Waker", "Write"]


class Waker(Protocol):
    """This process's relay, as the writers see it."""

    def leads(self) -> bool:
        """True while it holds the lead: it is woken directly after commit, no NOTIFY needed."""

    def wake(self) -> None:
        """Something committed: publish it now."""


class EventStore:
    def __init__(self, pool: asyncpg.Pool, schema: str, subjects: Subjects, service: str,
                 waker: Waker | None = None):
        self.pool = pool
        self.schema = schema
        self.subjects = subjects
        self.service = service
        self.channel = f"{schema}_events"
        self.waker = waker
        """The relay of this process for ``schema`` (None: every write NOTIFYs)."""

    async def write(self, w: Write, conn: asyncpg.Connection | None = None) -> list[asyncpg.Record]:
        """Run ``w`` as one statement: in ``conn``'s transaction (from ``transaction()``, which wakes
        the relay at commit), or else as a transaction of its own, one round trip. Answers the rows of
        ``w.returning``. Raises ConcurrencyError when a stream moved past its expected version."""
        text, args = self.compiled(w)
        try:
            rows: list[asyncpg.Record] = await (self.pool if conn is None else conn).fetch(text, *args)
        except asyncpg.UniqueViolationError as exc:
            conflict = w.conflict(exc)
            if conflict is None:  # an event id twice, a projection's own key: the caller's to handle
                raise
            raise conflict from exc
        if w.appends:
            counted = w.condition is not None or w.result is None
            EVENTS_APPENDED.labels(self.service).inc((rows[0]["am_appended"] if rows else 0) if counted
                                                     else w.events())
        if conn is None:
            self.committed()
        return rows

    def compiled(self, w: Write) -> tuple[str, list[Any]]:
        """The statement ``write`` runs for ``w``, and its arguments."""
        tp = current_traceparent()
        return w.statement(lambda s, v, ev: self._row(s, v, ev, tp), self.notify_channel()).compile()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction for reads and writes together; the relay is woken at its commit."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn
        self.committed()

    def notify_channel(self) -> str:
        """The NOTIFY channel for an append's statement: '' (no NOTIFY) while this process's relay
        leads, for it is woken directly at commit."""
        return "" if self.waker is not None and self.waker.leads() else self.channel

    def committed(self) -> None:
        """A write committed: wake this process's relay if it leads (others heard the NOTIFY)."""
        if self.waker is not None and self.waker.leads():
            self.waker.wake()

    async def load(self, conn: asyncpg.Connection, stream_id: str) -> tuple[list[Event], int]:
        rows = await conn.fetch(
            "SELECT data::text AS data, version FROM events WHERE stream_id = $1 ORDER BY version", stream_id
        )
        events = [decode_event(r["data"]) for r in rows]
        return events, (rows[-1]["version"] if rows else 0)

    def _row(self, stream_id: str, version: int | None, ev: Event, traceparent: str | None) -> EventRow:
        hdrs = {"traceparent": traceparent} if traceparent else {}
        if ev.correlation_id:
            hdrs["Am-Correlation-Id"] = ev.correlation_id
        if ev.causation_id:
            hdrs["Am-Causation-Id"] = ev.causation_id
        subject = self.subjects.event(ev.DOMAIN, ev.AGGREGATE, ev.subject_token(), ev.org_id)
        return (stream_id, version, ev.event_id, ev.type_name(), subject, ev.org_id, encode_event(ev).decode(),
                msgspec.json.encode(hdrs).decode())

    # -- ``append``: one stream's events on their own, for a writer whose conflict is expected (a single
    # -- event's conflict leaves the caller's transaction usable); every other write is a ``Write`` ----------
    async def append(
        self,
        conn: asyncpg.Connection,
        stream_id: str,
        expected_version: int,
        events: Sequence[Event],
    ) -> int:
        """Append inside the caller's transaction; read models are updated in that same transaction.

        Raises ConcurrencyError when the stream moved past ``expected_version``.
        """
        if not events:
            return expected_version
        tp = current_traceparent()
        rows = [self._row(stream_id, expected_version + i, ev, tp) for i, ev in enumerate(events, start=1)]
        if len(rows) == 1:
            # One round trip: insert, conflict check and wake-up of the relay in one statement. A
            # conflict inserts nothing, so the caller's transaction stays usable.
            inserted = await conn.fetchval(_APPEND_ONE, *rows[0], self.notify_channel())
            if inserted != 1:
                raise ConcurrencyError(stream_id, expected_version)
        else:
            # One statement too. A conflict fails it, and with it the caller's transaction, which must
            # then roll back (a single-event append is the one to use when a conflict is expected).
            try:
                columns = [list(col) for col in zip(*rows, strict=True)][2:]  # event_id … headers
                await conn.fetchval(_APPEND_MANY, stream_id, expected_version, *columns, self.notify_channel())
            except asyncpg.UniqueViolationError as exc:
                if "event_id" in str(exc.constraint_name or ""):
                    raise
                raise ConcurrencyError(stream_id, expected_version) from exc
        EVENTS_APPENDED.labels(self.service).inc(len(events))
        return expected_version + len(events)
