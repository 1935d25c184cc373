"""The submission loop: claim due messages (``FOR UPDATE SKIP LOCKED`` plus a lease), shape them by
token buckets with fair round-robin between organizations, run the final compliance check, append
MessageSending, hand the message to the carrier with its id as the idempotency reference, and record
the outcome. One replica leads (a Postgres advisory lock, like the relay) so the buckets are global.

Crash safety: MessageSending is committed before the carrier call, so a message found ``sending`` on
start (or whose lease ran out) is resubmitted with the same reference — the carrier answers with the
carrier id it already gave and sends nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import structlog

from libs.backoff import backoff
from libs.bus.rpc import RpcClient
from libs.carrier.http_api import CarrierError, Submitter
from libs.runtime.batching import Batcher
from libs.runtime.waiting import woken
from libs.sms import TEXTS_PER_REQUEST
from libs.store.eventstore import EventStore
from proto.base import CommandError, ErrorBody, new_id, utcnow
from proto.commands.compliance import (
    Category,
    EvaluateSend,
    EvaluateSends,
    SendDecision,
    SendKind,
    SendOutcomes,
)
from services.outbound import model, projection, store, sweeps
from services.outbound.commands import (
    CarrierRefused,
    Command,
    Dispatch,
    Expire,
    RecordSent,
    Refused,
    RetrySubmission,
)
from services.outbound.config import OutboundSettings
from services.outbound.shaping import Candidate, Shaper

log = structlog.get_logger(__name__)

_CANDIDATES = (
    # due messages, at most $3 per sending number (fewer for a number with fewer tokens, $7/$8) and $5 per
    # organization, interleaved across
    # organizations (every org's oldest first, then every org's second...) so one backlog hides no one.
    # The sending numbers with work are found by skipping through the messages_sender_due index (one
    # probe per number), and each number's first $3 due are read from it: the cost follows the numbers
    # and $3, not the length of the backlog.
    "WITH RECURSIVE senders AS ("
    " (SELECT from_number FROM messages WHERE status IN ('queued', 'sending') ORDER BY from_number LIMIT 1)"
    " UNION ALL"
    " SELECT (SELECT m.from_number FROM messages m WHERE m.status IN ('queued', 'sending')"
    "  AND m.from_number > s.from_number ORDER BY m.from_number LIMIT 1)"
    " FROM senders s WHERE s.from_number IS NOT NULL)"
    " SELECT id, org_id, from_number, campaign_id, throughput_mpm, segments FROM ("
    "  SELECT c.*, row_number() OVER (PARTITION BY c.org_id ORDER BY c.next_attempt_at, c.created_at) AS rn_org"
    "  FROM senders s CROSS JOIN LATERAL ("
    "   SELECT m.id::text AS id, m.org_id::text AS org_id, m.from_number, m.campaign_id, m.throughput_mpm,"
    "   m.segments, m.next_attempt_at, m.created_at FROM messages m"
    "   WHERE m.from_number = s.from_number AND m.status IN ('queued', 'sending') AND m.next_attempt_at <= now()"
    "   AND (m.claimed_until IS NULL OR m.claimed_until < now()) AND NOT (m.id = ANY($1::uuid[]))"
    "   AND NOT (m.campaign_id = ANY($6::text[]))"
    "   ORDER BY m.next_attempt_at, m.created_at"
    "   LIMIT least($3, coalesce((SELECT a.n FROM unnest($7::text[], $8::int[]) AS a(s, n) WHERE a.s = s.from_number),"
    "   $3))) c"
    "  WHERE s.from_number IS NOT NULL AND NOT (s.from_number = ANY($2::text[]))"
    " ) u WHERE rn_org <= $5 ORDER BY rn_org, next_attempt_at, created_at LIMIT $4"
)
_NO_ANSWER = ErrorBody(code="NO_DECISION", message="compliance gave no decision", status=502)


_CLAIM = (
    # "(status IN …) IS TRUE", not "status IN …": found by primary key, never through the partial index
    # over that same status set, which a stale row estimate can make look cheap while it walks the backlog
    "UPDATE messages SET claimed_until = now() + make_interval(secs => $3), claim_id = $2::uuid"
    " WHERE id IN (SELECT id FROM messages WHERE id = ANY($1::uuid[]) AND (status IN ('queued', 'sending')) IS TRUE"
    " AND (claimed_until IS NULL OR claimed_until < now()) FOR UPDATE SKIP LOCKED)"
    f" RETURNING {store.COLUMNS}"
)


@dataclass(frozen=True, slots=True)
class _Limits:
    """How many due messages a round reads: of one sending number, of one organization, in all."""

    per_sender: int
    per_org: int
    total: int

    def truncated(self, cands: list[Candidate]) -> bool:
        """The round read as many candidates as it may (in all, of a number or of an organization), so
        more may be due behind them."""
        if len(cands) >= self.total:
            return True
        per_sender = Counter(c.sender for c in cands)
        per_org = Counter(c.org_id for c in cands)
        return (max(per_sender.values(), default=0) >= self.per_sender
                or max(per_org.values(), default=0) >= self.per_org)


class Dispatcher:
    def __init__(self, es: EventStore, rpc: RpcClient, carrier: Submitter, settings: OutboundSettings):
        self.es = es
        self.rpc = rpc
        self.carrier = carrier
        self.s = settings
        self.shaper = Shaper(settings.number_throughput_mpm, settings.default_campaign_mpm, settings.burst_s)
        self.inflight: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._saturated = False
        self._backlogged: set[str] = set()
        """Numbers whose due messages outnumbered their tokens last round: served by token-paced rounds."""
        self.leading = False
        """This replica dispatches: its own accepted messages wake it directly, without a NOTIFY."""
        self._last_sweep = 0.0
        self._last_promote = 0.0
        self._last_orphans = 0.0
        self._orphans: asyncio.Task[None] | None = None
        """The reconciliation of orphaned credit holds under way (beside the rounds, never in one)."""
        # every message takes these steps; messages taking one at the same time share its round trip
        self._checks: Batcher[EvaluateSend, SendDecision | CommandError] = Batcher(
            "final-checks", self._check_many, max_batch=min(settings.dispatch_batch, TEXTS_PER_REQUEST), workers=2)
        self._sendings: Batcher[tuple[Dispatch, str], model.Message | None] = Batcher(
            "sending", self._sending_many, max_batch=settings.dispatch_batch, workers=2)
        self._sents: Batcher[tuple[str, str], None] = Batcher(
            "sent", self._sent_many, max_batch=settings.dispatch_batch, workers=2)
        self.lock_key = int.from_bytes(hashlib.sha256(f"dispatcher:{es.schema}".encode()).digest()[:8], "big",
                                       signed=True)

    def wake(self, *_: Any) -> None:
        self._wake.set()

    def arrived(self, due: set[tuple[str, str]]) -> None:
        """Messages became due, by (sending number, campaign id): a round now, unless every one of them
        waits anyway — for shaping tokens, or behind its number's backlog — and the rounds paced by
        those tokens take them in turn."""
        now = time.monotonic()
        if any(sender not in self._backlogged and not self.shaper.waits(sender, campaign, now)
               for sender, campaign in due):
            self._wake.set()

    # -- the loop ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Lead (advisory lock), recover what a previous leader left, then dispatch until cancelled."""
        async with self.es.pool.acquire() as lock_conn:
            lock_conn.hold_session_state()
            while not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                await asyncio.sleep(2.0)  # another replica dispatches
            channel = store.due_channel(self.es.schema)
            await lock_conn.add_listener(channel, self.wake)
            self.leading = True
            try:
                await self.recover()
                while True:
                    self._wake.clear()
                    delay = await self.tick()
                    # (arrivals that wait for tokens anyway do not wake us: see ``arrived``)
                    await woken(self._wake, delay)
                    await asyncio.sleep(0.002)  # let a burst of arrivals gather into one round
            finally:
                self.leading = False
                tasks = list(self.inflight.values()) + ([self._orphans] if self._orphans is not None else [])
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                for b in (self._checks, self._sendings, self._sents):
                    await b.stop()
                with contextlib.suppress(Exception):
                    await lock_conn.remove_listener(channel, self.wake)
                    await lock_conn.execute("SELECT pg_advisory_unlock($1)", self.lock_key)

    async def recover(self) -> None:
        """We lead now: every lease is stale, and whatever was ``sending`` is resubmitted at once."""
        async with self.es.transaction() as conn:
            sending = await conn.execute(
                "UPDATE messages SET claimed_until = NULL, claim_id = NULL, next_attempt_at = LEAST(next_attempt_at,"
                " now()) WHERE status = 'sending'")
            await conn.execute("UPDATE messages SET claimed_until = NULL, claim_id = NULL"
                               " WHERE status IN ('queued', 'scheduled') AND claimed_until IS NOT NULL")
        log.info("dispatcher_leading", resubmitting=int(sending.split()[-1]))

    async def _orphaned_holds(self) -> None:
        try:
            await sweeps.orphaned_holds(self.es, self.rpc, self.s.orphan_hold_after_s)
        except Exception as exc:  # (accounts or the store unavailable: the next sweep tries again; a
            # reconciliation never takes the dispatcher down)
            log.warning("orphaned_holds_sweep_failed", error=repr(exc))

    async def tick(self) -> float:
        """One round; returns how long to sleep unless woken."""
        mono = time.monotonic()
        if mono - self._last_sweep >= 1.0:
            self._last_sweep = mono
            await sweeps.expire(self.es)
            await sweeps.unconfirmed(self.es, self.s.receipt_timeout_s)
            self.shaper.prune(mono)
        if mono - self._last_orphans >= self.s.orphan_hold_sweep_s and (self._orphans is None or self._orphans.done()):
            self._last_orphans = mono  # (a request to accounts: it must not hold up a round, nor overlap itself)
            self._orphans = asyncio.create_task(self._orphaned_holds(), name="orphaned-holds")
        if mono - self._last_promote >= 0.2:  # scheduled times need no millisecond precision
            self._last_promote = mono
            await sweeps.promote(self.es)
        free = self.s.dispatch_concurrency - len(self.inflight)
        self._saturated = free <= 0
        if free <= 0:
            return self.s.dispatch_poll_s
        senders, campaigns = self.shaper.blocked(mono)
        allowed = self.shaper.allowances(mono)
        # a round takes at most ``free`` messages, so it reads no more than that of one number or one
        # organization (reading the configured 50 and 200 to take a few costed more than the rest of the
        # round: at 64 slots and a backlog, 500 rows read to take ~20); in all it still reads as many as
        # ``dispatch_batch``, one per organization first, so with many organizations the least recently
        # served still get their turn
        limits = _Limits(min(self.s.dispatch_per_sender, free), min(self.s.dispatch_per_org, free),
                         self.s.dispatch_batch)
        rows = await self.es.pool.fetch(_CANDIDATES, list(self.inflight), senders, limits.per_sender,
                                        limits.total, limits.per_org, campaigns, list(allowed),
                                        list(allowed.values()))
        cands = [Candidate(id=r["id"], org_id=r["org_id"], sender=r["from_number"], campaign=r["campaign_id"],
                           campaign_mpm=r["throughput_mpm"], segments=r["segments"]) for r in rows]
        picks = self.shaper.select(cands, mono, free)
        took = 0
        if picks:
            claim_id = new_id()
            claimed = await self.es.pool.fetch(_CLAIM, [p.id for p in picks], claim_id, self.s.claim_lease_s)
            for m in store.states(claimed):
                self.inflight[m.id] = asyncio.create_task(self._work(m))
            took = len(claimed)
        self._saturated = len(picks) >= free
        chosen = {p.id for p in picks}
        read = Counter(c.sender for c in cands)
        # a number read up to its tokens may have more due behind them, waiting for its next tokens
        capped = {k for k, n in read.items() if k in allowed and n >= allowed[k] and allowed[k] < limits.per_sender}
        # and one read up to the round's limit has more due behind what it read (its arrivals need not wake
        # a round: the next comes when a slot frees, or at once when the round was truncated with slots left)
        full = {k for k, n in read.items() if n >= limits.per_sender}
        self._backlogged = set(senders) | capped | full | {c.sender for c in cands if c.id not in chosen}
        if took and not self._saturated and limits.truncated(cands):
            # every candidate was taken and more may be due behind them: the next round now (a round that
            # took none, its picks locked by another transaction, would only read them again: it sleeps)
            return 0.0
        delay = self.s.dispatch_poll_s
        if senders or campaigns or capped or len(picks) < len(cands):  # some wait for tokens: a round when they
            # have some, taking a shaped round's worth at once rather than one message per token
            ready = self.shaper.next_ready_s(time.monotonic())
            if ready is not None:
                delay = min(delay, max(ready, self.s.shaped_round_s))
        return delay

    # -- one message -------------------------------------------------------------------------------
    async def _work(self, m: model.Message) -> None:
        try:
            await self._submit(m)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the lease runs out and the message is tried again
            log.exception("dispatch_failed", message_id=m.id, error=repr(exc))
        finally:
            self.inflight.pop(m.id, None)
            if self._saturated:
                self.wake()

    async def _submit(self, m: model.Message) -> None:
        """Final check → MessageSending (committed) → the carrier → MessageSent; each outcome decided by
        the aggregate."""
        mid, claim = m.id, m.claim_id
        if m.held is not None or model.expired(m, utcnow()):  # a held receipt proves the carrier has it
            await self._decide(mid, claim, lambda cur: RecordSent(cur.held.carrier_message_id) if cur.held
                               else Expire(utcnow(), claim))
            return
        try:
            decision = await self._checks.submit(EvaluateSend(
                org_id=m.org_id, message_id=mid, from_=m.from_number, to=m.to_number, text=m.body,
                category=cast(Category, m.category), kind=cast(SendKind, m.kind), stage="submit"))
            if isinstance(decision, CommandError):
                raise decision
        except CommandError as exc:  # no decision, no send: try again later
            log.warning("final_check_unavailable", message_id=mid, error=exc.code)
            await self._retry_later(mid, claim, m.attempts + 1, None)
            return
        if decision.decision != "allow":
            await self._decide(mid, claim, lambda cur: Refused(decision, utcnow(), claim))
            log.info("final_check_refused", message_id=mid, decision=decision.decision, code=decision.code)
            return
        attempt = m.attempts + 1
        cur = await self._sendings.submit((Dispatch(attempt, claim, decision.decision_id), mid))
        if cur is None:
            return  # canceled (an opt-out) or moved on while we checked
        try:
            cid = await self.carrier.submit_message(cur.from_number, cur.to_number, cur.body, reference=mid,
                                                    org_id=cur.org_id)
        except CarrierError as exc:
            if exc.transient:
                await self._retry_later(mid, claim, attempt, str(exc))
                return
            body = exc.body if isinstance(exc.body, dict) else {}
            code = str(body.get("code") or body.get("error") or exc)
            reason = (f"the carrier refused the message: {code}" if exc.code in ("", "CARRIER_REJECTED")
                      else str(exc))  # SUBMISSION_UNCONFIRMED: left, not acknowledged, never sent again
            refused = CarrierRefused(exc.code or "CARRIER_REJECTED", reason, claim)
            await self._decide(mid, claim, lambda cur: refused)
            return
        await self._sents.submit((mid, cid))
        log.info("message_sent", message_id=mid, carrier_message_id=cid, attempt=attempt)

    # -- the steps every message takes, group-committed ----------------------------------------------
    async def _check_many(self, sends: list[EvaluateSend]) -> list[SendDecision | CommandError]:
        """The final compliance check of many messages in one request; a check that failed answers its
        error, for its own message only."""
        out: SendOutcomes = await self.rpc.call(EvaluateSends(sends=sends))
        if len(out.results) != len(sends):
            raise CommandError("BAD_REPLY", "compliance answered a different number of checks", 502)
        return [o.decision if o.decision is not None else CommandError.from_body(o.error or _NO_ANSWER)
                for o in out.results]

    async def _sending_many(self, items: list[tuple[Dispatch, str]]) -> list[model.Message | None]:
        """MessageSending for many messages in one transaction, each under a lease covering the carrier
        call; None for a message our claim no longer holds or that moved on (canceled by an opt-out)."""
        lease = utcnow() + timedelta(seconds=self.s.carrier_timeout_s + self.s.claim_lease_s)
        async with self.es.transaction() as conn:
            now = await store.lock_many(conn, [mid for _, mid in items])
            writes = {mid: projection.write_of(now[mid], model.decide(now[mid], cmd).events, lease)
                      for cmd, mid in items if mid in now}
            await projection.write(conn, self.es, list(writes.values()))
        return [writes[mid].after if mid in writes and writes[mid].events else None for _, mid in items]

    async def _sent_many(self, items: list[tuple[str, str]]) -> list[None]:
        """MessageSent for many messages the carrier took, in one transaction (a final receipt that came
        first is applied with it)."""
        async with self.es.transaction() as conn:
            now = await store.lock_many(conn, [mid for mid, _ in items])
            await projection.write(conn, self.es, [projection.write_of(now[mid], model.decide(
                now[mid], RecordSent(cid)).events) for mid, cid in dict(items).items() if mid in now])
        return [None] * len(items)

    async def _decide(self, mid: str, claim: str | None,
                      command: Callable[[model.Message], Command]) -> model.Decision | None:
        """Lock the message, decide ``command`` on it if our claim still holds it, and write the events."""
        async with self.es.transaction() as conn:
            cur = await store.lock(conn, mid)
            if cur is None or cur.claim_id != claim:
                return None
            d = model.decide(cur, command(cur))
            await projection.write(conn, self.es, [projection.write_of(cur, d.events)])
        return d

    async def _retry_later(self, mid: str, claim: str | None, attempt: int, error: str | None) -> None:
        delay = backoff(attempt, self.s.retry_base_s, self.s.retry_cap_s, random.random())
        at = utcnow() + timedelta(seconds=delay)
        async with self.es.transaction() as conn:
            cur = await store.lock(conn, mid)
            if cur is None or cur.claim_id != claim:
                return
            d = model.decide(cur, RetrySubmission(attempt, at, claim, error))
            if d.events:
                await projection.write(conn, self.es, [projection.write_of(cur, d.events)])
            else:  # nothing happened to the message: no event
                await projection.postpone(conn, mid, at)
        log.info("submission_retry", message_id=mid, attempt=attempt, delay_s=round(delay, 3), error=error)
