"""A write to the event store, built before it runs: the events to append (one or many streams, each at
the version its writer read), the projections (read-model statements) that go with them, and what the
write answers. ``EventStore.write`` runs it as ONE statement — the projections as data-modifying CTEs,
then the INSERT of every event, the relay's wake-up inside it — so a write is one round trip whether it
appends one event or a thousand, and holds its row locks for no longer than that.

One statement means one snapshot: a projection does not see the rows another one writes (chain them
through ``RETURNING`` and the CTE's name instead), and two projections must not change the same row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from libs.bus.rpc import TransientError
from libs.store.query import Sql, join, notify, sql, table
from proto.base import Event

EventRow = tuple[str, int | None, str, str, str, str, str, str]
"""An event as ``events`` stores it: stream, version (None: the stream's head), id, type, subject,
organization, data, headers."""

_COLUMNS = {"stream_id": "text", "version": "int", "event_id": "uuid", "event_type": "text", "subject": "text",
            "org_id": "text", "data": "text", "headers": "text", "nth": "int"}
_AT_HEAD = "coalesce(e.version, (SELECT coalesce(max(x.version), 0) FROM events x WHERE x.stream_id = e.stream_id) + e.nth)"
_VERSION_TAKEN = "events_stream_id_version_key"
_CONFLICT = re.compile(r"=\((.*), (-?\d+)\) already exists")


class ConcurrencyError(TransientError):
    """Another writer appended to the stream first; reload and decide again."""

    def __init__(self, stream_id: str, expected: int | None):
        super().__init__(f"stream {stream_id} is past version {expected}")
        self.stream_id = stream_id
        self.expected = expected


@dataclass
class Write:
    """Events for one or many streams, the projections written with them, and the write's answer.

    Build it with the chained methods, then ``await store.write(w)`` (its own transaction, one round
    trip) or ``await store.write(w, conn)`` (inside ``store.transaction()``)."""

    appends: list[tuple[str, int | None, Sequence[Event]]] = field(default_factory=list)
    projections: list[tuple[str, Sql]] = field(default_factory=list)
    condition: Sql | None = None
    result: Sql | None = None

    def append(self, stream_id: str, expected_version: int | None, events: Sequence[Event]) -> Write:
        """Append ``events`` to ``stream_id`` at ``expected_version + 1 …``; the write fails with
        ``ConcurrencyError`` when the stream is already past ``expected_version``. ``None`` appends at
        the stream's head as the statement finds it: for a writer whose decision does not rest on the
        stream's past, or that holds a lock every writer of the stream takes (a row ``FOR UPDATE``). Two
        such writers racing unlocked: one fails with ``ConcurrencyError``."""
        if events:
            self.appends.append((stream_id, expected_version, events))
        return self

    def project(self, statement: Sql, name: str | None = None) -> Write:
        """A read-model statement (INSERT/UPDATE/DELETE, or a SELECT others read) as a CTE of the
        write's statement, named ``name`` for the others (and ``returning``) to read."""
        self.projections.append((name or f"am_p{len(self.projections)}", statement))
        return self

    def only_where(self, condition: Sql) -> Write:
        """Append only the events for which ``condition`` holds, a boolean expression over the event
        row ``e`` (``e.stream_id``, ``e.org_id``, …) and the projections, e.g.
        ``sql("EXISTS (SELECT 1 FROM bal)")``: the events of a change that did not happen are not
        appended. The events' count then comes from the database (see ``returning``)."""
        self.condition = condition
        return self

    def returning(self, select: Sql) -> Write:
        """What the write answers: a SELECT over the projections, e.g. ``sql("SELECT * FROM m")``.
        Without it the write answers one row, ``am_appended`` (the events appended). With
        ``only_where``, each row gains that column too."""
        self.result = select
        return self

    def events(self) -> int:
        return sum(len(evs) for _, _, evs in self.appends)

    def statement(self, row: Callable[[str, int | None, Event], EventRow], channel: str) -> Sql:
        """The write as one statement. ``row`` turns an event into its stored columns; ``channel`` is
        the relay's NOTIFY channel, '' for none."""
        ctes = [sql(f"{name} AS (:s)", s=s) for name, s in self.projections]
        if self.appends:
            ctes.append(sql("am_events AS (:s)", s=self._insert(row, channel)))
        if self.result is None:
            result = sql("SELECT count(*) AS am_appended FROM am_events" if self.appends else "SELECT 0 AS am_appended")
        elif self.condition is not None and self.appends:
            result = sql("SELECT r.*, (SELECT count(*) FROM am_events) AS am_appended FROM (:r) AS r", r=self.result)
        else:
            result = self.result
        if not ctes:
            return result
        return sql("WITH :ctes :result", ctes=join(", ", ctes), result=result)

    def _insert(self, row: Callable[[str, int | None, Event], EventRow], channel: str) -> Sql:
        rows: list[tuple[object, ...]] = []
        at_head: dict[str, int] = {}  # a stream appended at its head: its events so far in this write
        for stream_id, expected, events in self.appends:
            for i, ev in enumerate(events, start=1):
                if expected is None:
                    nth = at_head[stream_id] = at_head.get(stream_id, 0) + 1
                    rows.append((*row(stream_id, None, ev), nth))
                else:
                    rows.append((*row(stream_id, expected + i, ev), i))
        # The wake-up is a one-time filter (an uncorrelated subquery, run once), inside the INSERT, which
        # runs to completion whatever the rest of the statement reads. Within a transaction PostgreSQL
        # sends one NOTIFY per channel however often it is asked.
        return sql(
            "INSERT INTO events (stream_id, version, event_id, event_type, subject, org_id, data, headers)"
            f" SELECT e.stream_id, {_AT_HEAD if at_head else 'e.version'}, e.event_id, e.event_type, e.subject,"
            " e.org_id, e.data::json, e.headers::json FROM :rows WHERE :wake >= 0 AND (:cond) RETURNING 1",
            rows=table("e", _COLUMNS, rows), wake=notify(channel), cond=self.condition or sql("true"))

    def conflict(self, exc: asyncpg.UniqueViolationError) -> ConcurrencyError | None:
        """The ``ConcurrencyError`` a unique violation means, or None when it is not a version taken
        (an event id appended twice, a projection's own key: the caller's business)."""
        if exc.constraint_name != _VERSION_TAKEN:
            return None
        m = _CONFLICT.search(str(getattr(exc, "detail", "") or ""))
        stream_id = m.group(1) if m else self.appends[0][0]
        expected = next((v for s, v, _ in self.appends if s == stream_id), None)
        return ConcurrencyError(stream_id, expected)
