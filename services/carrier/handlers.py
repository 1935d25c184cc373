"""The carrier service's handlers: submit a message through the adapter (never twice), record receipts
and match them to submissions (even when they come first), turn inbound deliver_sm into inbound texts
(decoded, reassembled, repeats dropped), and answer the status of the upstream connections."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import asyncpg
import structlog

from libs.backoff import backoff
from libs.bus.rpc import fault_of
from libs.cache import TtlCache
from libs.obs.metrics import CARRIER_INBOUND, CARRIER_RECEIPT_LAG, CARRIER_RECEIPTS, CARRIER_SUBMISSIONS
from libs.runtime.batching import Batcher
from libs.smpp import pdu, receipt
from libs.smpp.receipt import Receipt
from libs.smpp.session import Session
from libs.store import Write
from libs.store.eventstore import ConcurrencyError, EventStore
from proto.base import CommandError, Event, new_id, utcnow
from proto.commands import carrier as cc
from proto.commands.carrier import CarrierStatus, GetCarrierStatus, SubmitMessage, Submitted
from proto.events.carrier import (
    UPSTREAM_ORG,
    InboundTextReceived,
    MessageSubmitted,
    SubmissionRefused,
    SubmissionUnconfirmed,
)
from services.carrier import model, receipts, store
from services.carrier.adapters import Adapter, Elsewhere, Refused, Unavailable, Unconfirmed
from services.carrier.attempt import Attempt
from services.carrier.config import CarrierServiceSettings

log = structlog.get_logger(__name__)
T = TypeVar("T")


class Carrier:
    def __init__(self, es: EventStore, adapter: Adapter, settings: CarrierServiceSettings):
        self.es = es
        self.adapter = adapter
        self.s = settings
        self._attempt_s = (2 * settings.carrier_http_timeout_s if adapter.resubmit_safe
                           else settings.carrier_submit_wait_s + 2 * settings.smpp_response_timeout_s)
        """How long a submission's marker stands since its attempt last refreshed it (a live attempt does so
        every third of this, however many parts it sends): until then the marker is exclusive (another
        attempt sends nothing, answers "under way"); after, the attempt is taken to be over (a crashed
        replica's): the message is resubmitted where the upstream is safe to ask twice, else it is
        unconfirmed."""
        self._inflight: dict[str, asyncio.Task[Submitted]] = {}
        # inbound PDUs and receipts arriving together are group-committed (one transaction per batch),
        # each answered (its deliver_sm_resp sent) once its batch is committed. Inbound texts one batch at
        # a time: their events are numbered, committed and published in the order they came (two batches
        # at once could commit a contact's later text first, and every step after keeps that order)
        self._pdus: Batcher[tuple[model.InboundPart, bool], str] = Batcher(
            "inbound-pdus", self._inbound_many, max_batch=200, workers=1)
        self._recent: TtlCache[str, model.RecentMo] = TtlCache(settings.mo_dedupe_s)
        """The last whole text that came over SMPP, by its repeat key: the same PDU again is a repeat or
        the contact's new text with the same words (``RecentMo.resend_possible``)."""
        self._receipts: Batcher[Receipt, str] = Batcher("receipts", self._receipt_many, max_batch=100,
                                                                workers=2)
        # the submissions under way read, marked and recorded together: a statement for each step of a
        # batch, not for each message (the marker still committed before any of the batch's PDUs leaves)
        self._lookups: Batcher[str, asyncpg.Record | None] = Batcher(
            "submission-lookups", self._lookup_many, max_batch=200, workers=2)
        self._marks: Batcher[store.Marker, bool] = Batcher("submission-markers", self._mark_many, max_batch=200,
                                                           workers=2)
        self._records: Batcher[store.Outcome, bool] = Batcher("submission-records", self._record_many,
                                                              max_batch=200, workers=2)

    async def close(self) -> None:
        for b in (self._pdus, self._receipts, self._lookups, self._marks, self._records):
            await b.stop()

    # -- submissions ------------------------------------------------------------------------------------
    async def submit(self, cmd: SubmitMessage) -> Submitted:
        """Idempotent on the message id: a second ask while the first is under way waits for it."""
        task = self._inflight.get(cmd.message_id)
        if task is None:
            task = asyncio.create_task(self._submit(cmd))
            self._inflight[cmd.message_id] = task
            task.add_done_callback(lambda _: self._inflight.pop(cmd.message_id, None))
        return await asyncio.shield(task)

    async def submit_many(self, cmd: cc.SubmitMessages) -> cc.Submissions:
        """``submit`` for each message at once (their reads, markers and records share the batches every
        submission joins anyway); each answered on its own: its submission, or the error it would raise."""
        async def one(m: SubmitMessage) -> cc.SubmissionResult:
            try:
                return cc.SubmissionResult(submitted=await self.submit(m))
            except Exception as exc:  # (cancellation is not an Exception: it still ends the whole request)
                return cc.SubmissionResult(error=fault_of(exc, "carrier", SubmitMessage.NAME)[0])
        return cc.Submissions(results=list(await asyncio.gather(*map(one, cmd.messages))))

    async def _submit(self, cmd: SubmitMessage) -> Submitted:
        earlier = await self._earlier(cmd)
        if earlier is not None:
            return earlier
        attempt = Attempt(self.es, cmd, self.adapter, self._attempt_s, self._marks.submit)
        try:
            return await self._attempt(cmd, attempt)
        finally:
            attempt.over()

    async def _attempt(self, cmd: SubmitMessage, attempt: Attempt) -> Submitted:
        mid = cmd.message_id
        try:
            ids = await self.adapter.submit(cmd, attempt.about_to_write)
        except Elsewhere:
            # another replica's attempt got its marker in first: its outcome, or "under way", never a 2nd send
            CARRIER_SUBMISSIONS.labels("elsewhere").inc()
            log.info("submission_elsewhere", message_id=mid)
            earlier = await self._earlier(cmd)
            if earlier is None:
                raise _under_way() from None
            return earlier
        except Unavailable as exc:
            await attempt.clear()
            CARRIER_SUBMISSIONS.labels("unavailable").inc()
            log.info("submission_unavailable", message_id=mid, error=str(exc))
            raise CommandError("CARRIER_UNAVAILABLE", f"the carrier is not reachable now: {exc}", 503) from exc
        except Refused as exc:
            await self._outcome(cmd, "refused", SubmissionRefused(
                org_id=cmd.org_id, message_id=mid, error_code=exc.code, reason=exc.reason,
                parts_accepted=exc.parts_accepted), error_code=exc.code, reason=exc.reason)
            CARRIER_SUBMISSIONS.labels("refused").inc()
            log.info("submission_refused", message_id=mid, error_code=exc.code)
            raise _refused(exc.code, exc.reason) from exc
        except Unconfirmed as exc:
            await self._outcome(cmd, "unconfirmed", SubmissionUnconfirmed(
                org_id=cmd.org_id, message_id=mid, reason=str(exc)), reason=str(exc))
            CARRIER_SUBMISSIONS.labels("unconfirmed").inc()
            log.warning("submission_unconfirmed", message_id=mid, reason=str(exc))
            raise _unconfirmed(str(exc)) from exc
        if not await self._submitted(cmd, ids):
            # our marker outlived us: another attempt asked the carrier again (safe) and recorded it first
            log.info("submission_recorded_elsewhere", message_id=mid)
            earlier = await self._earlier(cmd)
            if earlier is not None:
                return earlier
        CARRIER_SUBMISSIONS.labels("submitted").inc()
        return Submitted(carrier_message_id=ids[0], parts=len(ids), adapter=self.adapter.name)

    async def _submitted(self, cmd: SubmitMessage, ids: list[str]) -> bool:
        """Record the submission; answers False when another attempt had recorded it (nothing written)."""
        mid = cmd.message_id
        ev = MessageSubmitted(org_id=cmd.org_id, message_id=mid, carrier_message_id=ids[0], part_ids=ids,
                              adapter=self.adapter.name)
        return await self._records.submit(store.Outcome(mid, cmd.org_id, self.adapter.name, "submitted", ev,
                                                        part_ids=tuple(ids)))

    async def _record_many(self, outcomes: list[store.Outcome]) -> list[bool]:
        """The submissions acknowledged together, recorded in one transaction with the receipts that came
        before them settled; answers for each whether it was recorded here (False: another attempt had).
        The carrier has them: losing a record would make it "unconfirmed", so a failed one is tried again."""
        first, again = _once_each(outcomes, lambda o: o.message_id)
        tries = 0
        while True:
            try:
                async with self.es.transaction() as conn:
                    rows = await self.es.write(store.record(first), conn)
                    recorded = {r["message_id"] for r in rows}
                    settled = await receipts.settle(conn, self.es, sorted(recorded)) if recorded else {}
                break
            except (OSError, asyncpg.PostgresError) as exc:
                tries += 1
                if tries == 8:
                    raise
                log.warning("submission_record_retry", messages=len(first), error=repr(exc))
                await asyncio.sleep(backoff(tries, 0.25, 5.0))
        for effect in settled.values():
            if isinstance(effect, receipts.Published) and effect.lag_s is not None:
                CARRIER_RECEIPT_LAG.observe(max(0.0, effect.lag_s))
        out = {id(o): o.message_id in recorded for o in first}
        if again:  # (the same message twice in one batch: the second finds the first's record)
            out.update(zip(map(id, again), await self._record_many(again), strict=True))
        return [out[id(o)] for o in outcomes]

    async def _lookup_many(self, mids: list[str]) -> list[asyncpg.Record | None]:
        async with self.es.pool.acquire() as conn:
            rows = await store.submissions(conn, list(set(mids)))
        return [rows.get(m) for m in mids]

    async def _mark_many(self, markers: list[store.Marker]) -> list[bool]:
        """Markers of attempts about to write, one statement (a message at most once in it)."""
        take_over = self._attempt_s if self.adapter.resubmit_safe else None
        held: set[tuple[str, str]] = set()
        async with self.es.pool.acquire() as conn:
            pending = markers
            while pending:
                first, pending = _once_each(pending, lambda m: m.message_id)
                held |= await store.mark_writing(conn, first, take_over)
        return [(m.message_id, m.attempt) in held for m in markers]

    async def _earlier(self, cmd: SubmitMessage) -> Submitted | None:
        """What an earlier attempt at this message came to: its answer again (submitted, refused,
        unconfirmed), or None to go ahead."""
        mid = cmd.message_id
        row = await self._lookups.submit(mid)
        if row is not None:
            state = row["state"]
            if state == "submitted":
                return Submitted(carrier_message_id=row["carrier_message_id"], parts=row["parts"], adapter=row["adapter"])
            if state == "refused":
                raise _refused(row["error_code"] or "", row["reason"] or "")
            if state == "unconfirmed":
                raise _unconfirmed(row["reason"] or "")
            if state == "writing" and float(row["age_s"]) < self._attempt_s:
                raise _under_way()  # another replica may still be at it: not now, and not a second time
            if state == "writing" and not self.adapter.resubmit_safe:
                reason = ("an earlier attempt was interrupted after the message may have left and before the carrier"
                          " acknowledged it")
                await self._outcome(cmd, "unconfirmed", SubmissionUnconfirmed(
                    org_id=cmd.org_id, message_id=mid, reason=reason), reason=reason)
                raise _unconfirmed(reason)
        return None

    async def _outcome(self, cmd: SubmitMessage, state: str, ev: SubmissionRefused | SubmissionUnconfirmed,
                       error_code: str | None = None, reason: str | None = None) -> None:
        await self.es.write(store.record([store.Outcome(cmd.message_id, cmd.org_id, self.adapter.name, state, ev,
                                                        error_code=error_code, reason=reason)]))

    # -- receipts ---------------------------------------------------------------------------------------
    async def receipt(self, r: Receipt) -> str:
        """Record one part's receipt (before its deliver_sm_resp); publish the message's once it is known."""
        effect = await self._receipts.submit(r)
        CARRIER_RECEIPTS.labels(effect).inc()
        log.info("receipt_recorded", carrier_message_id=r.message_id, stat=r.stat, effect=effect)
        return effect

    async def _receipt_many(self, rs: list[Receipt]) -> list[str]:
        for attempt in range(5):
            try:
                async with self.es.transaction() as conn:
                    effects = await receipts.record_many(conn, self.es, rs)
                break
            except asyncpg.DeadlockDetectedError:
                if attempt == 4:
                    raise
        for e in effects:
            if isinstance(e, receipts.Published) and e.lag_s is not None:
                CARRIER_RECEIPT_LAG.observe(max(0.0, e.lag_s))
        return ["published" if isinstance(e, receipts.Published) else e for e in effects]

    # -- inbound ----------------------------------------------------------------------------------------
    async def deliver_sm(self, p: pdu.Pdu, session: Session | None = None) -> int:
        """A deliver_sm from the SMSC (on ``session``): a receipt or an inbound text, recorded before it is
        acknowledged."""
        if model.is_receipt(p):
            raw = p.octets("short_message") or p.tlvs.get(pdu.TAG_MESSAGE_PAYLOAD, b"")
            r = receipt.parse(p, raw.decode("latin-1"))
            if r is None:
                log.warning("receipt_unreadable", text=raw[:200].decode("latin-1"))
                return pdu.ESME_ROK  # acknowledged: sending it again would not make it readable
            await self.receipt(r)
            return pdu.ESME_ROK
        part = model.inbound_part(p)
        if session is None or part.concat is not None:  # (a part of a long text: always the window's rule)
            await self.inbound(part)
            return pdu.ESME_ROK
        now, in_time = time.monotonic(), self.s.mo_answered_in_time_s
        earlier = self._recent.get(part.key)
        this = model.RecentMo(session.closed, now)
        self._recent.put(part.key, this)
        try:
            await self.inbound(part, again=earlier is not None and not earlier.resend_possible(now, in_time))
        except BaseException:
            this.answered_in_time = False  # answered with an error (or not at all): the SMSC sends it again
            raise
        this.answered_in_time = time.monotonic() - now <= in_time
        return pdu.ESME_ROK

    async def inbound(self, part: model.InboundPart, again: bool = False) -> str:
        """``again``: the same PDU came before, and the SMSC cannot be resending it: a new text."""
        effect = await self._pdus.submit((part, again))
        CARRIER_INBOUND.labels(effect).inc()
        log.info("inbound_pdu", effect=effect, source=part.source, destination=part.destination,
                 part=part.concat.seq if part.concat else None)
        return effect

    async def _inbound_many(self, batch: list[tuple[model.InboundPart, bool]]) -> list[str]:
        """One transaction for the inbound PDUs arriving together: repeats found in one statement, whole
        texts appended in one, concatenation parts kept (and completed texts passed on) one by one."""
        parts = [part for part, _ in batch]
        async with self.es.transaction() as conn:
            fresh = await store.seen_many(conn, [p.key for p in parts], self.s.mo_dedupe_s,
                                          again=[p.key for p, again in batch if again])
            effects: list[str] = []
            texts: list[tuple[str, Event]] = []
            for part, again in batch:
                if part.key not in fresh and not again:
                    effects.append("repeat")
                    continue
                fresh.discard(part.key)  # the same PDU twice in one batch: the second is a repeat (unless again)
                if part.concat is None:
                    texts.append(self._text_event(part.source, part.destination, part.body, part.data_coding, 1,
                                                  True))
                    effects.append("text")
                    continue
                rows = await store.add_part(conn, part.group_key, part.concat.seq, part.concat.total, part.source,
                                            part.destination, part.body, part.data_coding)
                if len(rows) >= part.concat.total:
                    body, complete = model.assemble({r["seq"]: r["text"] for r in rows}, part.concat.total)
                    texts.append(self._text_event(part.source, part.destination, body, part.data_coding,
                                                  part.concat.total, complete))
                    await store.drop_group(conn, part.group_key)
                    effects.append("text")
                else:
                    effects.append("part")
            w = Write()
            for stream, ev in texts:
                w.append(stream, 0, [ev])
            await self.es.write(w, conn)
        return effects

    def _text_event(self, src: str, dst: str, text: str, dc: int, parts: int, complete: bool,
                    carrier_message_id: str | None = None, received_at: str | None = None
                    ) -> tuple[str, Event]:
        cid = carrier_message_id or f"smpp-{new_id()}"
        ev = InboundTextReceived(org_id=UPSTREAM_ORG, carrier_message_id=cid, from_=src, to=dst, text=text,
                                 received_at=model.carrier_time(received_at) or utcnow(),
                                 parts=parts, complete=complete,
                                 data_coding=dc)
        return f"inbound_text-{cid}", ev  # (a stream of its own: one event, appended at version 0)

    async def _text(self, conn: asyncpg.Connection, src: str, dst: str, text: str, dc: int, parts: int,
                    complete: bool, carrier_message_id: str | None = None, received_at: str | None = None) -> None:
        stream, ev = self._text_event(src, dst, text, dc, parts, complete, carrier_message_id, received_at)
        await self.es.write(Write().append(stream, 0, [ev]), conn)

    async def http_mo(self, carrier_message_id: str, src: str, dst: str, text: str, received_at: str) -> str:
        """The HTTP API's MO callback: one text per carrier id (a retried callback is recorded once)."""
        try:
            async with self.es.transaction() as conn:
                await self._text(conn, src, dst, text, 0, 1, True, carrier_message_id, received_at or None)
        except ConcurrencyError:  # its stream has its one event already
            return "duplicate"
        return "recorded"

    async def sweep(self) -> None:
        """Give up on concatenated texts whose parts did not all come in time; forget old PDU keys."""
        async with self.es.pool.acquire() as conn:
            groups = await store.stale_groups(conn, self.s.mo_concat_timeout_s)
            await store.forget_seen(conn, max(self.s.mo_dedupe_s, 60.0))
            await store.forget_unmatched(conn, self.s.held_receipt_keep_s)
        for g in groups:
            async with self.es.transaction() as conn:
                rows = await conn.fetch("SELECT seq, total, source, destination, text, data_coding FROM mo_parts"
                                        " WHERE group_key = $1 ORDER BY seq FOR UPDATE", g)
                if not rows:
                    continue
                text, complete = model.assemble({r["seq"]: r["text"] for r in rows}, rows[0]["total"])
                await self._text(conn, rows[0]["source"], rows[0]["destination"], text, rows[0]["data_coding"],
                                 rows[0]["total"], complete)
                await store.drop_group(conn, g)
            log.warning("inbound_concat_incomplete", group=g, parts=len(rows), total=rows[0]["total"])

    async def run_sweeper(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.s.mo_concat_timeout_s / 4))
            await self.sweep()

    # -- status -----------------------------------------------------------------------------------------
    async def status(self, _: GetCarrierStatus) -> CarrierStatus:
        async with self.es.pool.acquire() as conn:
            counts, held = await store.counts(conn)
        return CarrierStatus(adapter=self.adapter.name, upstream=self.adapter.upstream, ready=self.adapter.ready(),
                             binds=self.adapter.views(), submissions=counts, held_receipts=held)


def _once_each(items: list[T], key: Callable[[T], str]) -> tuple[list[T], list[T]]:
    """The items whose key comes first in the list, and the rest (one statement changes a row once)."""
    seen: set[str] = set()
    first: list[T] = []
    again: list[T] = []
    for item in items:
        k = key(item)
        (again if k in seen else first).append(item)
        seen.add(k)
    return first, again


def _refused(code: str, reason: str) -> CommandError:
    return CommandError("CARRIER_REJECTED", reason or "the carrier refused the message", 422, {"carrier_code": code})


def _under_way() -> CommandError:
    return CommandError("CARRIER_UNAVAILABLE", "the submission is under way elsewhere", 503)


def _unconfirmed(reason: str) -> CommandError:
    return CommandError("SUBMISSION_UNCONFIRMED", reason or "the carrier did not acknowledge the submission", 409)
