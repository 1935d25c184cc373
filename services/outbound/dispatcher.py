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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from libs.backoff import backoff
from libs.bus.rpc import RpcClient
from libs.carrier.adapter import CarrierError, Submitter
from libs.runtime.batching import Batcher
from libs.runtime.waiting import woken
from libs.store.eventstore import EventStore
from proto.base import CommandError, ErrorBody, new_id, parse_time, rfc3339, utcnow
from proto.commands.compliance import EvaluateSend, EvaluateSends, SendDecision, SendOutcomes
from proto.events.outbound import (
    MessageCanceled,
    MessageFailed,
    MessageQueued,
    MessageScheduled,
    MessageSending,
    MessageSent,
    MessageSubmissionRetried,
    MessageUndelivered,
)
from services.outbound import model, receipts, store
from services.outbound.config import OutboundSettings
from services.outbound.receipts import held
from services.outbound.shaping import Candidate, Shaper

log = structlog.get_logger(__name__)

_CANDIDATES = (
    # due messages, at most $3 per sending number and $5 per organization, interleaved across
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
    "   ORDER BY m.next_attempt_at, m.created_at LIMIT $3) c"
    "  WHERE s.from_number IS NOT NULL AND NOT (s.from_number = ANY($2::text[]))"
    " ) u WHERE rn_org <= $5 ORDER BY rn_org, next_attempt_at, created_at LIMIT $4"
)
_NO_ANSWER = ErrorBody(code="NO_DECISION", message="compliance gave no decision", status=502)


@dataclass(frozen=True)
class _Sending:
    """A message cleared by the final check, to be marked sending (if our claim still holds it)."""

    message_id: str
    claim: str | None
    attempt: int
    decision_id: str


_CLAIM = (
    # "(status IN …) IS TRUE", not "status IN …": found by primary key, never through the partial index
    # over that same status set, which a stale row estimate can make look cheap while it walks the backlog
    "UPDATE messages SET claimed_until = now() + make_interval(secs => $3), claim_id = $2::uuid"
    " WHERE id IN (SELECT id FROM messages WHERE id = ANY($1::uuid[]) AND (status IN ('queued', 'sending')) IS TRUE"
    " AND (claimed_until IS NULL OR claimed_until < now()) FOR UPDATE SKIP LOCKED)"
    f" RETURNING {store.COLUMNS}"
)


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
        # every message takes these steps; messages taking one at the same time share its round trip
        self._checks: Batcher[EvaluateSend, SendDecision | CommandError] = Batcher(
            "final-checks", self._check_many, max_batch=settings.dispatch_batch, workers=2)
        self._sendings: Batcher[_Sending, asyncpg.Record | None] = Batcher(
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
                tasks = list(self.inflight.values())
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

    async def tick(self) -> float:
        """One round; returns how long to sleep unless woken."""
        mono = time.monotonic()
        if mono - self._last_sweep >= 1.0:
            self._last_sweep = mono
            await self.expire()
            await self.unconfirmed()
            self.shaper.prune(mono)
        if mono - self._last_promote >= 0.2:  # scheduled times need no millisecond precision
            self._last_promote = mono
            await self.promote()
        free = self.s.dispatch_concurrency - len(self.inflight)
        self._saturated = free <= 0
        if free <= 0:
            return self.s.dispatch_poll_s
        senders, campaigns = self.shaper.blocked(mono)
        rows = await self.es.pool.fetch(_CANDIDATES, list(self.inflight), senders, self.s.dispatch_per_sender,
                                        self.s.dispatch_batch, self.s.dispatch_per_org, campaigns)
        cands = [Candidate(id=r["id"], org_id=r["org_id"], sender=r["from_number"], campaign=r["campaign_id"],
                           campaign_mpm=r["throughput_mpm"], segments=r["segments"]) for r in rows]
        picks = self.shaper.select(cands, mono, free)
        if picks:
            claim_id = new_id()
            claimed = await self.es.pool.fetch(_CLAIM, [p.id for p in picks], claim_id, self.s.claim_lease_s)
            for row in claimed:
                self.inflight[row["id"]] = asyncio.create_task(self._work(row))
        self._saturated = len(picks) >= free
        chosen = {p.id for p in picks}
        self._backlogged = set(senders) | {c.sender for c in cands if c.id not in chosen}
        delay = self.s.dispatch_poll_s
        if senders or campaigns or len(picks) < len(cands):  # some wait for tokens: a round when they
            # have some, taking a shaped round's worth at once rather than one message per token
            ready = self.shaper.next_ready_s(time.monotonic())
            if ready is not None:
                delay = min(delay, max(ready, self.s.shaped_round_s))
        return delay

    async def promote(self) -> None:
        """Scheduled messages whose time came join the queue."""
        async with self.es.transaction() as conn:
            rows = await conn.fetch(
                f"SELECT {store.COLUMNS} FROM messages WHERE status = 'scheduled' AND next_attempt_at <= now()"
                " AND (claimed_until IS NULL OR claimed_until < now()) ORDER BY next_attempt_at LIMIT 200"
                " FOR UPDATE SKIP LOCKED")
            for row in rows:
                ev = MessageQueued(org_id=row["org_id"], message_id=row["id"], reason="send time reached")
                await store.transition(conn, self.es, row, ev, "queued", "send time reached")

    async def expire(self) -> None:
        """Messages not handed to the carrier within their validity fail as expired (refunded)."""
        ids = await self.es.pool.fetch(
            "SELECT id::text AS id FROM messages WHERE status IN ('scheduled', 'queued', 'sending')"
            " AND expires_at <= now() AND (claimed_until IS NULL OR claimed_until < now()) LIMIT 200")
        for r in ids:
            async with self.es.transaction() as conn:
                row = await store.lock(conn, r["id"])
                now = utcnow()
                if (row is None or row["status"] not in ("scheduled", "queued", "sending")
                        or row["expires_at"] > now or (row["claimed_until"] and row["claimed_until"] > now)):
                    continue  # moved on, or a worker claimed it since the query
                pending = held(row)
                if pending is not None:  # the carrier had it after all: it was sent
                    await self._sent(conn, row, pending.carrier_message_id)
                    continue
                await self._fail(conn, row, "EXPIRED",
                                 f"expired: not handed to the carrier within {row['validity_seconds']} s")

    async def unconfirmed(self) -> None:
        """Sent messages whose final receipt did not come within ``receipt_timeout_s`` end undelivered
        (DELIVERY_UNCONFIRMED): carriers stop reporting on a message after their own validity period, and
        every message ends in one terminal status. The carrier had it, so its credit stays spent; a
        receipt arriving later changes nothing."""
        timeout = self.s.receipt_timeout_s
        ids = [r["id"] for r in await self.es.pool.fetch(
            "SELECT id::text AS id FROM messages WHERE status = 'sent'"
            " AND updated_at <= now() - make_interval(secs => $1) ORDER BY updated_at LIMIT 200", timeout)]
        if not ids:
            return
        reason = f"no delivery receipt from the carrier within {timeout:g} s"
        async with self.es.transaction() as conn:
            rows = await store.lock_many(conn, ids)
            limit = utcnow() - timedelta(seconds=timeout)
            changes = [store.Change(row, MessageUndelivered(
                org_id=row["org_id"], message_id=row["id"], carrier_message_id=row["carrier_message_id"] or "",
                receipt_status="", error_code="DELIVERY_UNCONFIRMED", reason=reason), "undelivered", reason,
                {"error_code": "DELIVERY_UNCONFIRMED"}) for row in rows.values()
                if row["status"] == "sent" and row["updated_at"] <= limit]  # (a receipt may have come since)
            await store.transition_many(conn, self.es, changes)
        log.info("receipts_unconfirmed", messages=len(changes), timeout_s=timeout)

    # -- one message -------------------------------------------------------------------------------
    async def _work(self, row: asyncpg.Record) -> None:
        mid = row["id"]
        try:
            await self._submit(row)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the lease runs out and the message is tried again
            log.exception("dispatch_failed", message_id=mid, error=repr(exc))
        finally:
            self.inflight.pop(mid, None)
            if self._saturated:
                self.wake()

    async def _submit(self, row: asyncpg.Record) -> None:
        mid, claim = row["id"], row["claim_id"]
        pending = held(row)
        if pending is not None or row["expires_at"] <= utcnow():
            async with self.es.transaction() as conn:
                cur = await self._mine(conn, mid, claim)
                if cur is None:
                    return
                if pending is not None:  # a receipt proves the carrier has it: no resubmission
                    await self._sent(conn, cur, pending.carrier_message_id)
                else:
                    await self._fail(conn, cur, "EXPIRED",
                                     f"expired: not handed to the carrier within {cur['validity_seconds']} s")
            return
        try:
            decision = await self._checks.submit(EvaluateSend(
                org_id=row["org_id"], message_id=mid, from_=row["from_number"], to=row["to_number"],
                text=row["body"], category=row["category"], kind=row["kind"], stage="submit"))
            if isinstance(decision, CommandError):
                raise decision
        except CommandError as exc:  # no decision, no send: try again later
            log.warning("final_check_unavailable", message_id=mid, error=exc.code)
            await self._retry_later(mid, claim, row["attempts"] + 1, None)
            return
        if decision.decision != "allow":
            await self._not_allowed(mid, claim, decision)
            return
        attempt = row["attempts"] + 1
        cur = await self._sendings.submit(_Sending(mid, claim, attempt, decision.decision_id))
        if cur is None:
            return  # canceled (an opt-out) or moved on while we checked
        try:
            cid = await self.carrier.submit_message(cur["from_number"], cur["to_number"], cur["body"], reference=mid,
                                                    org_id=cur["org_id"])
        except CarrierError as exc:
            if exc.transient:
                await self._retry_later(mid, claim, attempt, str(exc))
                return
            body = exc.body if isinstance(exc.body, dict) else {}
            code = str(body.get("code") or body.get("error") or exc)
            reason = (f"the carrier refused the message: {code}" if exc.code in ("", "CARRIER_REJECTED")
                      else str(exc))  # SUBMISSION_UNCONFIRMED: left, not acknowledged, never sent again
            async with self.es.transaction() as conn:
                cur = await self._mine(conn, mid, claim)
                if cur is not None and cur["status"] == "sending":
                    await self._fail(conn, cur, exc.code or "CARRIER_REJECTED", reason)
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

    async def _sending_many(self, items: list[_Sending]) -> list[asyncpg.Record | None]:
        """MessageSending for many messages in one transaction; None for a message our claim no longer
        holds or that moved on (canceled by an opt-out) while it was checked."""
        lease = utcnow() + timedelta(seconds=self.s.carrier_timeout_s + self.s.claim_lease_s)
        async with self.es.transaction() as conn:
            rows = await store.lock_many(conn, [x.message_id for x in items])
            changes: list[store.Change] = []
            for x in items:
                cur = rows.get(x.message_id)
                if cur is None or cur["claim_id"] != x.claim or cur["status"] not in ("queued", "sending"):
                    continue
                ev = MessageSending(org_id=cur["org_id"], message_id=x.message_id, attempt=x.attempt,
                                    decision_id=x.decision_id)
                changes.append(store.Change(cur, ev, "sending", f"attempt {x.attempt}" if x.attempt > 1 else None,
                                            {"attempts": x.attempt, "claimed_until": lease}))
            new = {r["id"]: r for r in await store.transition_many(conn, self.es, changes)}
        return [new.get(x.message_id) for x in items]

    async def _sent_many(self, items: list[tuple[str, str]]) -> list[None]:
        """MessageSent for many messages the carrier took, in one transaction; a receipt that came
        first (held) is applied right after."""
        async with self.es.transaction() as conn:
            rows = await store.lock_many(conn, [mid for mid, _ in items])
            changes = [store.Change(rows[mid], MessageSent(
                org_id=rows[mid]["org_id"], message_id=mid, carrier_message_id=cid, reservation_id=mid),
                "sent", None, {"carrier_message_id": cid, "claimed_until": None, "claim_id": None})
                for mid, cid in dict(items).items() if mid in rows and rows[mid]["status"] == "sending"]
            sent = await store.transition_many(conn, self.es, changes)
            finals = [(row, held(row)) for row in sent]
            await store.transition_many(conn, self.es, [receipts.change(row, r) for row, r in finals if r is not None])
        return [None] * len(items)

    async def _mine(self, conn: asyncpg.Connection, mid: str, claim: str | None) -> asyncpg.Record | None:
        """The locked row, if our claim still holds it."""
        row = await store.lock(conn, mid)
        if row is None or row["claim_id"] != claim:
            return None
        return row

    async def _not_allowed(self, mid: str, claim: str | None, d: SendDecision) -> None:
        async with self.es.transaction() as conn:
            cur = await self._mine(conn, mid, claim)
            if cur is None or cur["status"] not in ("queued", "sending"):
                return
            if d.decision == "defer":
                until = _parse(d.defer_until) or utcnow() + timedelta(minutes=1)
                reason = d.reason or f"deferred until {rfc3339(until)}"
                ev_s = MessageScheduled(org_id=cur["org_id"], message_id=mid, send_at=rfc3339(until), reason=reason)
                await store.transition(conn, self.es, cur, ev_s, "scheduled", reason, next_attempt_at=until,
                                       expires_at=model.expires_at(until, cur["validity_seconds"]),
                                       claimed_until=None, claim_id=None, deferred_by=model.deferred_by(d.checks))
            elif d.code == "RECIPIENT_OPTED_OUT":
                reason = d.reason or "the recipient opted out"
                ev_c = MessageCanceled(org_id=cur["org_id"], message_id=mid, reason=reason, reservation_id=mid,
                                       code="RECIPIENT_OPTED_OUT")
                await store.transition(conn, self.es, cur, ev_c, "canceled", reason, error_code=d.code,
                                       claimed_until=None, claim_id=None)
            else:
                await self._fail(conn, cur, d.code or "SEND_DENIED", d.reason or "refused by the final check")
        log.info("final_check_refused", message_id=mid, decision=d.decision, code=d.code)

    async def _retry_later(self, mid: str, claim: str | None, attempt: int, error: str | None) -> None:
        delay = backoff(attempt, self.s.retry_base_s, self.s.retry_cap_s, random.random())
        at = utcnow() + timedelta(seconds=delay)
        async with self.es.transaction() as conn:
            cur = await self._mine(conn, mid, claim)
            if cur is None:
                return
            if error is None or cur["status"] != "sending":  # nothing happened to the message: no event
                await store.update(conn, mid, next_attempt_at=at, claimed_until=None, claim_id=None)
                return
            ev = MessageSubmissionRetried(org_id=cur["org_id"], message_id=mid, attempt=attempt, error=error[:500],
                                          retry_at=rfc3339(at))
            await store.note(conn, self.es, cur, ev, next_attempt_at=at, claimed_until=None, claim_id=None)
        log.info("submission_retry", message_id=mid, attempt=attempt, delay_s=round(delay, 3), error=error)

    async def _sent(self, conn: asyncpg.Connection, row: asyncpg.Record, cid: str) -> None:
        if row["status"] != "sending":  # a held receipt proves an earlier attempt reached the carrier
            ev_s = MessageSending(org_id=row["org_id"], message_id=row["id"], attempt=max(1, row["attempts"]))
            row = await store.transition(conn, self.es, row, ev_s, "sending", "the carrier's receipt shows it has it")
        ev = MessageSent(org_id=row["org_id"], message_id=row["id"], carrier_message_id=cid, reservation_id=row["id"])
        row = await store.transition(conn, self.es, row, ev, "sent", None, carrier_message_id=cid,
                                     claimed_until=None, claim_id=None)
        r = held(row)
        if r is not None:
            await receipts.apply(conn, self.es, row, r)

    async def _fail(self, conn: asyncpg.Connection, row: asyncpg.Record, code: str, reason: str) -> None:
        ev = MessageFailed(org_id=row["org_id"], message_id=row["id"], reason=reason, error_code=code,
                           reached_carrier=False, reservation_id=row["id"])
        await store.transition(conn, self.es, row, ev, "failed", reason, error_code=code, claimed_until=None,
                               claim_id=None)
        log.info("message_failed", message_id=row["id"], error_code=code)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_time(value, "defer_until")
    except CommandError:
        return None
