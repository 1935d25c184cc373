"""The Postgres work queue: a table whose rows are work to do (a webhook to POST, a callback to send),
claimed by any number of workers in any number of replicas without a broker.

- **Claim**: ``FOR UPDATE SKIP LOCKED`` on the due rows, oldest first — two workers never get the same
  row and never wait on each other.
- **Lease**: a claimed row is reserved for ``lease_s`` (its due time pushed past the lease, or its own
  ``claimed_until`` column), so no connection is held open during the work, and a worker that dies
  mid-way makes the row due again when the lease runs out: at least once, never lost.
- **Retry**: :meth:`WorkQueue.retry` makes the row due again after a :mod:`libs.backoff` delay.
- **Dead letter**: :meth:`WorkQueue.finish` with the table's terminal state (``failed``) — the row stays,
  with its last error, for people to read; it is never claimed again.

A table needs ``id``, ``next_attempt_at`` and (with ``count_attempts``) ``attempts``; what "still to do"
means (``pending``) and any extra rule on what may be claimed (``claimable``, e.g. in order per
message) are SQL over the alias ``q``. A caller that picks the rows itself (outbound's dispatcher, whose
shaper chooses which messages may go) leases them with :meth:`WorkQueue.claim_ids`. :class:`QueueWorker` is the loop: claim into free slots, run the
handler on each row concurrently, sleep until NOTIFY, a finished row or the next due time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import asyncpg
import structlog

from libs.obs.metrics import WORK_CLAIMED
from libs.runtime.waiting import woken

log = structlog.get_logger(__name__)

Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True)
class WorkQueue:
    table: str
    returning: str
    """The claimed rows' columns, over the alias ``w`` (each row also answers ``due_at``: when it was due)."""
    pending: str = "q.state = 'pending'"
    """SQL (alias ``q``): the row still wants work."""
    claimable: str = ""
    """SQL (alias ``q``), optional: a further rule on which pending due rows may be claimed now."""
    lease_column: str = "next_attempt_at"
    """Where the lease is kept: ``next_attempt_at`` pushed past it (the default), or a column of its own
    (``claimed_until``) that leaves ``next_attempt_at`` as it was."""
    count_attempts: bool = True
    """``attempts`` goes up by one at each claim (an attempt started counts, even if it never ends)."""
    claim_sql: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        own_lease = self.lease_column != "next_attempt_at"
        due = ["q.next_attempt_at <= now()", self.pending]
        if own_lease:
            due.append(f"(q.{self.lease_column} IS NULL OR q.{self.lease_column} < now())")
        if self.claimable:
            due.append(self.claimable)
        sets = [f"{self.lease_column} = now() + make_interval(secs => $2)"]
        if self.count_attempts:
            sets.append("attempts = w.attempts + 1")
        object.__setattr__(self, "claim_sql", (
            f"UPDATE {self.table} AS w SET {', '.join(sets)}"
            f" FROM (SELECT q.id, q.next_attempt_at AS due_at FROM {self.table} AS q WHERE {' AND '.join(due)}"
            f" ORDER BY q.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) AS c"
            f" WHERE w.id = c.id RETURNING c.due_at, {self.returning}"))

    async def claim(self, conn: Conn, limit: int, lease_s: float) -> list[asyncpg.Record]:
        """Lease up to ``limit`` due rows, oldest first, skipping rows another worker holds."""
        rows: list[asyncpg.Record] = await conn.fetch(self.claim_sql, limit, lease_s)
        return rows

    async def claim_ids(self, conn: Conn, ids: list[str], lease_s: float, **fields: Any) -> list[asyncpg.Record]:
        """Lease those of ``ids`` that are pending and free — with a lease column of its own, due or not: the
        caller chose them (a dispatcher's shaper) — skipping rows another worker holds; set ``fields`` too
        (a claim id)."""
        args: list[Any] = [ids, lease_s]
        sets = [f"{self.lease_column} = now() + make_interval(secs => $2)"]
        if self.count_attempts:
            sets.append("attempts = w.attempts + 1")
        for name, value in fields.items():
            args.append(value)
            sets.append(f"{name} = ${len(args)}")
        free = [self.pending, "q.id = ANY($1::uuid[])"]
        if self.lease_column != "next_attempt_at":
            free.append(f"(q.{self.lease_column} IS NULL OR q.{self.lease_column} < now())")
        else:
            free.append("q.next_attempt_at <= now()")
        rows: list[asyncpg.Record] = await conn.fetch(
            f"UPDATE {self.table} AS w SET {', '.join(sets)}"
            f" FROM (SELECT q.id, q.next_attempt_at AS due_at FROM {self.table} AS q WHERE {' AND '.join(free)}"
            f" FOR UPDATE SKIP LOCKED) AS c WHERE w.id = c.id RETURNING c.due_at, {self.returning}", *args)
        return rows

    async def retry(self, conn: Conn, row_id: str, delay_s: float, **fields: Any) -> None:
        """Due again in ``delay_s`` (the lease ends); set ``fields`` too."""
        await self._update(conn, row_id, {**fields, "next_attempt_at": _In(delay_s)})

    async def finish(self, conn: Conn, row_id: str, **fields: Any) -> None:
        """Done (``fields`` say how: delivered, or the dead letter's failed state and last error)."""
        await self._update(conn, row_id, fields)

    async def seconds_until_due(self, conn: Conn) -> float | None:
        """Seconds until the next pending row is due (negative: overdue); None when there is none."""
        due = "q.next_attempt_at"
        if self.lease_column != "next_attempt_at":
            due = f"greatest(q.next_attempt_at, coalesce(q.{self.lease_column}, q.next_attempt_at))"
        where = f"{self.pending} AND {self.claimable}" if self.claimable else self.pending
        value = await conn.fetchval(
            f"SELECT extract(epoch FROM min({due}) - now())::float8 FROM {self.table} AS q WHERE {where}")
        return None if value is None else float(value)

    async def _update(self, conn: Conn, row_id: str, fields: dict[str, Any]) -> None:
        args: list[Any] = [row_id]
        sets: list[str] = []
        if self.lease_column != "next_attempt_at":
            sets.append(f"{self.lease_column} = NULL")
        for name, value in fields.items():
            if isinstance(value, _In):
                args.append(float(value.seconds))
                sets.append(f"{name} = now() + make_interval(secs => ${len(args)})")
            else:
                args.append(value)
                sets.append(f"{name} = ${len(args)}")
        if sets:
            await conn.execute(f"UPDATE {self.table} SET {', '.join(sets)} WHERE id = $1::uuid", *args)


@dataclass(frozen=True)
class _In:
    seconds: float


Claim = Callable[[Conn, int], Awaitable[list[asyncpg.Record]]]
"""Lease up to n rows (on the given connection) and answer those to start."""

ClaimIds = Callable[[Conn, list[str], int], Awaitable[list[asyncpg.Record]]]
"""Lease up to n of the given rows, those due and free (on the given connection), and answer those to start."""


class QueueWorker:
    """Runs ``handle(row)`` on claimed rows, at most ``concurrency`` at once. ``handle`` records the
    outcome itself (:meth:`WorkQueue.retry` / :meth:`WorkQueue.finish`); if it raises, the error is
    logged and the row is due again when its lease ends.

    A queue with a claim rule of its own (inbound's per-number lanes) passes ``claim``; it may lease more
    than it answers only if it gives the rest back itself.

    Offers. A producer in the same process that has just committed rows can ``offer`` their ids
    (with ``claim_ids``): they are leased by primary key, without the scan for due rows (which, on a busy
    queue, walks the index entries every finished row left behind until vacuum removes them). The scan
    still runs when something else may be due: at start, on NOTIFY or ``wake``, when the poll interval
    or the next due time comes, and after a finished row while rows may be waiting — the last claim
    filled every slot, an offered row could not be taken, or ``held`` said, right after the claim, that rows
    wait on a rule of the claim (a number's lane) that a finished row may lift."""

    def __init__(self, name: str, queue: WorkQueue, pool: asyncpg.Pool,
                 handle: Callable[[asyncpg.Record], Awaitable[None]], *, concurrency: int, lease_s: float,
                 poll_s: float = 1.0, channel: str | None = None, claim: Claim | None = None,
                 claim_interval_s: float = 0.0, custom_plans: bool = False, claim_ids: ClaimIds | None = None,
                 held: Callable[[], bool] | None = None, max_offered: int = 10_000):
        self.name = name
        self.queue = queue
        self.pool = pool
        self.handle = handle
        self.concurrency = concurrency
        self.lease_s = lease_s
        self.poll_s = poll_s
        """Longest sleep between looks at the queue (NOTIFY on ``channel`` and finished rows wake it sooner)."""
        self.channel = channel
        """With a channel, the claims run on the connection that listens to it, one at a time."""
        self.claim = claim or (lambda conn, n: queue.claim(conn, n, lease_s))
        self.claim_interval_s = claim_interval_s
        """Shortest time between two claims: under load a burst of wake-ups becomes one claim of many rows."""
        self.custom_plans = custom_plans
        """Plan the claims on the listening connection for their parameters (a generic plan of a claim with
        LIMIT $n or = ANY($n) can scan whole tables); needs ``channel``."""
        self.claim_ids = claim_ids
        self.held = held
        self.max_offered = max_offered
        """Offered ids kept while every slot is busy; beyond it the oldest are left to the scan."""
        self.in_flight: set[asyncio.Task[None]] = set()
        self._offered: list[str] = []
        self._scan = True
        """Something other than the offers may be due: the next claim scans."""
        self._more = False
        """The last claims may have left due rows behind (they filled every slot, an offer was not taken, or
        ``held`` said so right after them: asked at the claim, since an attempt that ends frees its lane)."""
        self.scans = 0
        """How many claims scanned for due rows (tests read it)."""
        self._wake = asyncio.Event()
        self._stopping = False
        self._grace_s = 0.0
        self._last_claim = 0.0
        self.sleeps = 0
        """How many times the loop went to sleep (tests wait for it)."""

    def wake(self, *_: object) -> None:
        self._scan = True
        self._wake.set()

    def offer(self, ids: list[str]) -> None:
        """Rows this process has just committed, due now: claimed by id at the next fill (with
        ``claim_ids``; else the same as ``wake``)."""
        if self.claim_ids is None:
            self.wake()
            return
        self._offered.extend(ids)
        if len(self._offered) > self.max_offered:  # every slot busy for long: the scan finds the rest
            del self._offered[: len(self._offered) - self.max_offered]
            self._more = True
        self._wake.set()

    async def run(self) -> None:
        """Claim due rows whenever there is a free slot; sleep until woken or the next one is due."""
        async with contextlib.AsyncExitStack() as stack:
            conn: Conn = self.pool
            if self.channel is not None:
                listen = await stack.enter_async_context(self.pool.acquire())
                listen.hold_session_state()
                if self.custom_plans:
                    await listen.execute("SET plan_cache_mode = force_custom_plan")
                await listen.add_listener(self.channel, self.wake)
                stack.push_async_callback(self._unlisten, listen)
                conn = listen
            stack.push_async_callback(self._end_in_flight)
            self._scan = True  # (a restart too: whatever was due meanwhile)
            while not self._stopping:
                self._wake.clear()
                if await self._fill(conn):
                    continue  # every slot filled: there may be more
                timeout = await self._sleep_s(conn)
                self.sleeps += 1
                if not await woken(self._wake, timeout):
                    self._scan = True  # the poll interval, or the next row's due time

    async def _fill(self, conn: Conn) -> bool:
        """Claim into the free slots: offered rows by id, then a scan if one is called for. Answers
        whether to fill again at once (every slot filled, and more may be waiting)."""
        free = self.concurrency - len(self.in_flight)
        if free <= 0 or not (self._scan or self._offered):
            return False
        wait = self._last_claim + self.claim_interval_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_claim = time.monotonic()
        rows: list[asyncpg.Record] = []
        if self._offered and self.claim_ids is not None:
            ids, self._offered = self._offered[:free], self._offered[free:]
            rows = await self.claim_ids(conn, ids, free)
            WORK_CLAIMED.labels(self.name, "offered").inc(len(rows))
            if len(rows) < len(ids):  # not due, taken by another worker, or held back by the claim's rule
                self._more = True
        if self._scan and len(rows) < free:
            self._scan = False
            self.scans += 1
            found = await self.claim(conn, free - len(rows))
            WORK_CLAIMED.labels(self.name, "scan").inc(len(found))
            self._more = len(found) == free - len(rows)
            rows.extend(found)
        for row in rows:
            task = asyncio.create_task(self._run_one(row))
            self.in_flight.add(task)
            task.add_done_callback(self._done)
        if self.held is not None and self.held():  # (once the rows claimed hold their slots)
            self._more = True
        return len(rows) == free and (self._more or bool(self._offered))

    async def _sleep_s(self, conn: Conn) -> float:
        if self._wake.is_set():
            return 0.0
        if self.in_flight:  # each one's end wakes us anyway
            return self.poll_s
        due = await self.queue.seconds_until_due(conn)
        return self.poll_s if due is None else min(self.poll_s, max(due, 0.01))

    async def _run_one(self, row: asyncpg.Record) -> None:
        try:
            await self.handle(row)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database trouble: the lease runs out and the row is tried again
            log.exception("queue_work_failed", queue=self.name, row_id=str(row["id"]), error=repr(exc))

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        # a slot is free: rows left waiting may be claimable now (or work that waited on this row)
        if self.claim_ids is None or self._more:
            self._scan = True
        self._wake.set()

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop claiming; let rows in hand finish for up to ``grace_s``, then cancel them (they are due
        again when their lease ends: at least once, never lost)."""
        self._stopping = True
        self._grace_s = grace_s
        self._wake.set()
        await self._end_in_flight()

    async def _end_in_flight(self) -> None:
        if self.in_flight and self._grace_s > 0:
            await asyncio.wait(set(self.in_flight), timeout=self._grace_s)
        for task in list(self.in_flight):
            task.cancel()
        await asyncio.gather(*self.in_flight, return_exceptions=True)

    async def _unlisten(self, conn: asyncpg.Connection) -> None:
        with contextlib.suppress(Exception):
            await conn.remove_listener(self.channel, self.wake)
