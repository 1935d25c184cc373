"""compliance command handlers: the gate, double opt-in, recorded consent and revocation, inbound
keywords, and handing our own texts to outbound. load → decide (model) → append + project, in one
transaction; the texts go out after the commit, under deterministic message ids."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg

from libs.phone import normalize_e164
from libs.runtime.service import Service
from libs.store.eventstore import ConcurrencyError, EventStore
from libs.store.processed import claim
from proto.base import CommandError, Event, new_id, parse_uuid, rfc3339, utcnow
from proto.commands import compliance as c
from proto.commands.numbers import GetNumber, NumberRef, SenderInfo, SenderStatus
from proto.commands.outbound import MessageView, SendMessage
from proto.events.compliance import (
    ConsentEvidence,
    ConsentGranted,
    ConsentRevoked,
    DecisionCheck,
    DoubleOptInExpired,
    DoubleOptInRequested,
    GateDecision,
    OptOutRecorded,
)
from proto.events.inbound import InboundMessageReceived
from proto.events.numbers import (
    CampaignNumberAssigned,
    CampaignNumberRemoved,
    CampaignResubmitted,
    CampaignSubmitted,
)
from proto.events.outbound import MessageCanceled, MessageFailed
from proto.keywords import keyword_of
from proto.subjects import Subjects
from services.compliance import model, store
from services.compliance.config import ComplianceSettings
from services.compliance.keywords import classify
from services.compliance.store import DecisionLog, GateReader

log = structlog.get_logger(__name__)

KEYWORDS_CONSUMER = "compliance-keywords"
CAMPAIGNS_CONSUMER = "compliance-campaigns"
UNCOUNT_CONSUMER = "compliance-frequency-uncount"
_MAX_KEYWORD = 40
"""Longer folded texts cannot be a campaign keyword (numbers allows 30 characters)."""


def chosen_id(value: str, field: str) -> str:
    ident = parse_uuid(value)
    if ident is None:
        raise CommandError("VALIDATION_ERROR", f"{field}: must be a UUID", 400, {"field": field})
    return ident


CONSENT_METHODS = frozenset({"web_form", "paper", "verbal", "keyword", "import", "other"})
_RETRYABLE = frozenset({"SERVICE_UNAVAILABLE", "SERVICE_TIMEOUT"})
T = TypeVar("T")


@functools.lru_cache(maxsize=200_000)
def _normalize(raw: str) -> str:
    return normalize_e164(raw)


def e164(raw: str, field: str) -> str:
    try:
        return _normalize(raw)
    except ValueError as exc:
        raise CommandError("VALIDATION_ERROR", f"{field}: {exc}", 400, {"field": field}) from exc


def parse_time(value: str, field: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CommandError("VALIDATION_ERROR", f"{field}: must be an RFC 3339 time with a zone", 400,
                           {"field": field}) from exc
    if ts.tzinfo is None:
        raise CommandError("VALIDATION_ERROR", f"{field}: must include a zone (e.g. Z or -07:00)", 400,
                           {"field": field})
    return ts


def policy_defaults(s: ComplianceSettings) -> model.Policy:
    return model.Policy(quiet_hours_enabled=s.quiet_hours_enabled, quiet_hours_action=s.quiet_hours_action,
                        conversation_window_enabled=s.conversation_window_enabled,
                        conversation_window_hours=s.conversation_window_hours,
                        double_opt_in_expiry_hours=s.double_opt_in_expiry_hours)


class Compliance:
    def __init__(self, svc: Service, settings: ComplianceSettings, clock: Callable[[], datetime] = utcnow):
        self.svc = svc
        self.settings = settings
        self.now = clock
        self.defaults = policy_defaults(settings)
        self._decisions: DecisionLog | None = None
        self._reader: GateReader | None = None
        self._senders: dict[str, dict[str, tuple[float, SenderInfo]]] = {}
        """Per organization, per number: numbers' answer and until when to reuse it."""
        self._numbers_seen: dict[str, int] = {}
        """Per organization: numbers events seen (an answer asked for before the latest one is not kept)."""
        self._inflight: dict[tuple[str, str], asyncio.Future[SenderInfo]] = {}

    @property
    def store(self) -> EventStore:
        return self.svc.store

    @property
    def decisions(self) -> DecisionLog:
        if self._decisions is None:  # the event store exists once the service has started
            self._decisions = DecisionLog(self.svc.store, self.settings.decision_batch)
        return self._decisions

    @property
    def reader(self) -> GateReader:
        if self._reader is None:
            self._reader = GateReader(self.svc.store.pool, self.settings.decision_batch)
        return self._reader

    def start(self) -> None:
        self.reader.start()
        self.decisions.start()

    async def stop(self) -> None:
        await self.reader.stop()
        await self.decisions.stop()

    async def retry(self, fn: Callable[[], Awaitable[T]], attempts: int = 8) -> T:
        """Run a load → decide → append transaction again when another writer moved the stream first."""
        for attempt in range(attempts):
            try:
                return await fn()
            except ConcurrencyError:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.002 * (attempt + 1))
        raise AssertionError("unreachable")

    # -- numbers: is this number allowed to send? (cached a few seconds) -------------------------------
    async def sender_info(self, org_id: str, number: str, timeout: float | None = None) -> SenderInfo:
        key = (org_id, number)
        hit = self._senders.get(org_id, {}).get(number)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[SenderInfo] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        asked = self._numbers_seen.get(org_id, 0)
        try:
            info: SenderInfo = await self.svc.rpc.call(SenderStatus(org_id=org_id, e164=number),
                                                       timeout=timeout)
        except Exception as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: waiters re-raise it, nobody else has to
            raise
        except BaseException:
            fut.cancel()
            raise
        finally:
            self._inflight.pop(key, None)
        # a refusal is never remembered (it says what is missing, which the next step changes); an answer
        # asked for before a numbers event of the organization is not kept either
        if info.sending_enabled and self._numbers_seen.get(org_id, 0) == asked:
            if len(self._senders) > 50_000:
                self._senders.clear()
            self._senders.setdefault(org_id, {})[number] = (time.monotonic() + self.settings.sender_cache_s, info)
        fut.set_result(info)
        return info

    async def follow_numbers(self, nc: Client, subjects: Subjects) -> None:
        """Forget an organization's remembered senders on any numbers event of it (a brand registered, a
        campaign submitted, reviewed or suspended, a number moved or released): the gate's registration
        check then names what is missing now (NO_CAMPAIGN right after the brand), not a few seconds ago."""

        async def on_msg(msg: Msg) -> None:
            org_id = msg.subject.rpartition(".")[2]  # <root>.numbers.<aggregate>.<event>.<org id>
            if len(self._numbers_seen) > 100_000:  # forget it all rather than grow without end
                self._numbers_seen.clear()
                self._senders.clear()
            self._numbers_seen[org_id] = self._numbers_seen.get(org_id, 0) + 1
            self._senders.pop(org_id, None)

        await nc.subscribe(subjects.domain_wildcard("numbers"), cb=on_msg)

    # -- the gate ------------------------------------------------------------------------------------
    async def evaluate_send(self, cmd: c.EvaluateSend) -> c.SendDecision:
        to, frm = e164(cmd.to, "to"), e164(cmd.from_, "from")
        row = await self.reader.read(cmd.org_id, to, cmd.message_id)
        state, policy = store.state_of(row), store.policy_of(row, self.defaults)
        send_at = parse_time(cmd.send_at, "send_at") if cmd.send_at else None
        facts = model.SendFacts(org_id=cmd.org_id, message_id=cmd.message_id, from_=frm, to=to, kind=cmd.kind,
                                category=cmd.category, issued_kind=row["issued_kind"] if row else None,
                                send_at=send_at,
                                # an accepted message over a cap at its final check waits, it does not fail
                                on_frequency_cap=cmd.on_frequency_cap if cmd.stage == "accept" else "defer")
        sender: model.Sender | None = None
        if cmd.dry_run or model.check_opt_out(state, facts).check.result != "fail":
            info = await self.sender_info(cmd.org_id, frm)
            sender = model.Sender(info.sending_enabled, info.reason_code, info.reason)
        now = self.now()
        decision = model.decide(state, policy, facts, sender, now)
        if decision.decision != "deny" and model.caps_of(policy, facts):
            decision = await self._count(cmd, state, policy, facts, sender, now, bool(row and row["counted"]))
        if not cmd.dry_run:
            decision_id = new_id()
            await self.decisions.record(cmd.org_id, GateDecision(
                decision_id=decision_id, decided_at=now, message_id=cmd.message_id, stage=cmd.stage,
                from_number=frm, contact_number=to, kind=facts.effective_kind, category=cmd.category,
                decision=decision.decision, code=decision.code, reason=decision.reason,
                defer_until=decision.defer_until,
                checks=[DecisionCheck(name=k.name, result=k.result, detail=k.detail) for k in decision.checks]))
            decision.decision_id = decision_id
        return decision

    async def _count(self, cmd: c.EvaluateSend, state: model.ContactState, policy: model.Policy,
                     facts: model.SendFacts, sender: model.Sender | None, now: datetime,
                     counted: bool) -> c.SendDecision:
        """The decision under the frequency caps: the contact's allowed sends are counted and this one added,
        under a per-contact lock (every replica), so two sends at once cannot both take the last slot."""
        if counted:  # accepted (and counted) earlier: this is its final check
            return model.decide(state, policy, facts, sender, now, model.Counted(None))
        longest = max(cap.window for cap in model.caps_of(policy, facts))
        async with self.store.transaction() as conn:
            await store.lock_contact_sends(conn, cmd.org_id, facts.to)
            start = max(now, facts.send_at or now)
            sends = await store.sends_since(conn, cmd.org_id, facts.to, start - longest, cmd.message_id)
            decision = model.decide(state, policy, facts, sender, now, model.Counted(sends))
            if not cmd.dry_run and decision.decision != "deny":
                at = parse_time(decision.defer_until, "defer_until") if decision.defer_until else start
                await store.count_send(conn, cmd.message_id, cmd.org_id, facts.to, facts.category, at)
        return decision

    async def evaluate_sends(self, cmd: c.EvaluateSends) -> c.SendOutcomes:
        """``evaluate_send`` for many sends at once (their reads and decision records share round
        trips); each answered as it would be alone."""

        async def one(send: c.EvaluateSend) -> c.SendOutcome:
            try:
                return c.SendOutcome(decision=await self.evaluate_send(send))
            except CommandError as exc:
                return c.SendOutcome(error=exc.body())

        return c.SendOutcomes(results=list(await asyncio.gather(*(one(x) for x in cmd.sends))))

    # -- our own texts, through outbound ------------------------------------------------------------------
    async def hand_off(self, row: asyncpg.Record) -> MessageView:
        """Ask outbound to send a double opt-in's text now, for the request's answer (403 when the number
        cannot send yet; the message readable at once). Outbound also sends it on DoubleOptInRequested, under
        the same message id, should this call time out; a definitive refusal is recorded and not retried."""
        # a double opt-in confirmation is our initiative: it keeps to quiet hours (the replies do not)
        category: c.Category = "conversational" if row["kind"] == "opt_in_request" else "transactional"
        msg = SendMessage(org_id=row["org_id"], message_id=row["message_id"], from_=row["from_number"],
                          to=row["contact"], text=row["text"], kind=row["kind"], category=category)
        try:
            view: MessageView = await self.svc.rpc.call(msg)
        except CommandError as exc:
            if exc.code in _RETRYABLE or exc.status >= 500:
                raise
            log.warning("reply_refused", message_id=row["message_id"], kind=row["kind"], code=exc.code,
                        reason=exc.message)
            await store.mark_handed_off(self.store.pool, row["message_id"], f"{exc.code}: {exc.message}")
            raise
        await store.mark_handed_off(self.store.pool, row["message_id"])
        return view

    # -- inbound keywords ----------------------------------------------------------------------------------
    async def texts(self, org_id: str, our_number: str) -> model.Texts:
        try:
            info = await self.sender_info(org_id, our_number, timeout=2.0)
        except CommandError:
            return model.Texts()  # numbers is down: record the opt-out anyway, with our default wording
        return model.Texts(brand=info.brand_name, help_message=info.help_message,
                           opt_out_message=info.opt_out_message)

    @staticmethod
    def _sender_of(ev: InboundMessageReceived) -> tuple[str, datetime]:
        """The contact (normalised when it can be) and when the message was received."""
        try:
            contact = _normalize(ev.from_)
        except ValueError:
            contact = ev.from_
        try:
            received = parse_time(ev.received_at, "received_at")
        except CommandError:
            received = ev.occurred_at
        return contact, received

    async def absorb_inbound(self, events: list[Event]) -> set[str]:
        """The keywords consumer's bulk path: of a fetched batch, the messages with no keyword (most) only
        move the contact's last-message time forward — order-free (a maximum) — so they are recorded
        together in one statement; the rest go through ``on_inbound`` in order."""
        plain: list[tuple[str, str, str, datetime]] = []
        done: set[str] = set()
        maybe: dict[str, tuple[str, str, str]] = {}  # might be a campaign's own keyword: looked up together
        for ev in events:
            if not isinstance(ev, InboundMessageReceived) or not ev.org_id:
                done.add(ev.event_id)  # nothing to do
            elif classify(ev.body).intent is None:
                plain.append((ev.event_id, ev.org_id, *self._sender_of(ev)))
                kw = keyword_of(ev.body) if len(ev.body) <= 4 * _MAX_KEYWORD else ""
                if 0 < len(kw) <= _MAX_KEYWORD:
                    maybe[ev.event_id] = (ev.org_id, ev.to, kw)
        if maybe:
            hits = await store.campaign_keyword_hits(self.store.pool, list(maybe.values()))
            plain = [p for p in plain if maybe.get(p[0]) not in hits]
        if plain:
            await store.touch_inbound_many(self.store.pool, KEYWORDS_CONSUMER, plain)
        return done | {p[0] for p in plain}

    async def screen_inbound(self, cmd: c.ScreenInbound) -> c.InboundScreened:
        """Inbound asks before it makes messages visible: record each one's effect now (plain texts
        together; keywords in order for each contact, different contacts side by side), so a YES or STOP
        the organization can see already governs its next send. The replies (opt-out confirmation, help)
        are ReplyIssued events, which outbound consumes and sends: screening never waits for outbound."""
        events: list[Event] = list(cmd.messages)
        done = await self.absorb_inbound(events)
        keywords = [ev for ev in events if ev.event_id not in done]
        # in order for each contact; different contacts side by side
        by_contact: dict[tuple[str, str], list[Event]] = {}
        for ev in keywords:
            by_contact.setdefault((ev.org_id, getattr(ev, "from_", "")), []).append(ev)

        async def in_order(evs: list[Event]) -> None:
            for ev in evs:
                await self.on_inbound(ev)

        await asyncio.gather(*(in_order(evs) for evs in by_contact.values()))
        return c.InboundScreened(screened=len(events))

    async def on_inbound(self, ev: Event) -> None:
        if not isinstance(ev, InboundMessageReceived) or not ev.org_id:
            return
        contact, received = self._sender_of(ev)
        campaign = None
        kw = keyword_of(ev.body) if len(ev.body) <= 4 * _MAX_KEYWORD else ""
        if 0 < len(kw) <= _MAX_KEYWORD:
            campaign = await store.campaign_of(self.store.pool, ev.org_id, ev.to)
        cls = classify(ev.body, campaign[0] if campaign else None)
        if cls.intent is None:  # most messages: nothing to decide, nothing to send
            await store.touch_inbound_once(self.store.pool, KEYWORDS_CONSUMER, ev.event_id, ev.org_id, contact,
                                           received)
            return
        texts = await self.texts(ev.org_id, ev.to)
        if cls.source == "campaign_keyword" and campaign is not None:  # the campaign's own words, its own replies
            texts = model.Texts(brand=texts.brand, opt_out_message=campaign[1] or texts.opt_out_message,
                                help_message=campaign[2] or texts.help_message)
        m = model.Inbound(event_id=ev.event_id, message_id=ev.message_id, org_id=ev.org_id, contact=contact,
                          our_number=ev.to, phone_number_id=ev.phone_number_id, body=ev.body, received_at=received)

        async def apply() -> None:  # (its ReplyIssued events are what outbound sends)
            async with self.store.transaction() as conn:
                if await claim(conn, KEYWORDS_CONSUMER, ev.event_id):
                    await store.touch_inbound(conn, ev.org_id, contact, received)
                    if cls.intent is not None:
                        s = await store.load_state(conn, ev.org_id, contact)
                        pending = await store.pending_double_opt_in(conn, ev.org_id, contact, ev.phone_number_id)
                        policy, _ = await store.load_policy(conn, ev.org_id, self.defaults)
                        events = model.on_inbound(s, cls, pending, m, policy, texts, self.now())
                        await store.append_contact(self.store, conn, ev.org_id, contact, s, model.fold(s, events),
                                                   events, ev.event_id)
                        log.info("inbound_keyword", org_id=ev.org_id, intent=cls.intent, rule=cls.rule,
                                 source=cls.source, language=cls.language, events=[e.type_name() for e in events])

        await self.retry(apply)

    # -- campaigns' own keywords (numbers' events) -------------------------------------------------------------
    async def on_campaign_event(self, ev: Event) -> None:
        """Learn a campaign's keywords and replies, and which numbers are on it; idempotent per event."""
        async with self.store.transaction() as conn:
            if not await claim(conn, CAMPAIGNS_CONSUMER, ev.event_id):
                return
            match ev:
                case CampaignSubmitted() | CampaignResubmitted():
                    await store.save_campaign(
                        conn, ev.org_id, ev.campaign_id,
                        sorted({keyword_of(k) for k in ev.opt_out_keywords if keyword_of(k)}), ev.opt_out_message,
                        sorted({keyword_of(k) for k in ev.help_keywords if keyword_of(k)}), ev.help_message)
                case CampaignNumberAssigned():
                    await store.put_number(conn, ev.org_id, _normalize(ev.e164), ev.campaign_id)
                case CampaignNumberRemoved():
                    await conn.execute("DELETE FROM campaign_numbers WHERE org_id = $1 AND e164 = $2 AND campaign_id = $3",
                                       ev.org_id, _normalize(ev.e164), ev.campaign_id)
                case _:
                    return

    # -- frequency caps: messages that will never be sent stop counting --------------------------------------
    async def on_message_ended(self, ev: Event) -> None:
        """A canceled message, or one that failed before the carrier, no longer counts against a frequency cap
        (a delete: a redelivery changes nothing)."""
        match ev:
            case MessageCanceled() | MessageFailed(reached_carrier=False):
                await store.uncount_sends(self.store.pool, ev.org_id, [ev.message_id])
            case _:
                return

    # -- double opt-in ---------------------------------------------------------------------------------------
    async def request_double_opt_in(self, cmd: c.RequestDoubleOptIn) -> c.DoubleOptInView:
        contact = e164(cmd.contact_number, "contact_number")
        text = cmd.confirmation_text.strip()
        if not text or len(text) > 1600:
            raise CommandError("VALIDATION_ERROR", "confirmation_text: must be 1 to 1600 characters", 400,
                               {"field": "confirmation_text"})
        number: NumberRef = await self.svc.rpc.call(
            GetNumber(org_id=cmd.org_id, phone_number_id=cmd.phone_number_id))
        if number.org_id != cmd.org_id:
            raise CommandError("NOT_FOUND", "phone number not found", 404, {"field": "phone_number_id"})
        request_id = new_id()
        if cmd.request_id is not None:
            request_id = chosen_id(cmd.request_id, "request_id")
            again = await self._double_opt_in_again(cmd.org_id, request_id)
            if again is not None:
                return again
        message_id = model.message_id_for(request_id, "opt_in_request")
        now = self.now()
        goes_at = now

        async def record() -> DoubleOptInRequested | None:
            nonlocal goes_at
            async with self.store.transaction() as conn:
                if cmd.request_id is not None and await conn.fetchval(
                        "SELECT 1 FROM double_opt_ins WHERE id = $1", request_id):
                    return None  # the same request, made concurrently
                s = await store.load_state(conn, cmd.org_id, contact)
                last = await store.last_double_opt_in_at(conn, cmd.org_id, contact)
                model.check_double_opt_in(s, last, now, self.settings.double_opt_in_per_hours)
                policy, _ = await store.load_policy(conn, cmd.org_id, self.defaults)
                goes_at = model.double_opt_in_send_time(policy, number.e164, contact, message_id, cmd.org_id, now)
                ev = DoubleOptInRequested(
                    org_id=cmd.org_id, occurred_at=now, request_id=request_id, contact_number=contact,
                    phone_number_id=number.id, from_number=number.e164, confirmation_text=text,
                    message_id=message_id,
                    expires_at=rfc3339(goes_at + timedelta(hours=policy.double_opt_in_expiry_hours)))
                await store.append_contact(self.store, conn, cmd.org_id, contact, s, model.fold(s, [ev]), [ev],
                                           request_id)
                return ev

        ev = await self.retry(record)
        if ev is None:
            again = await self._double_opt_in_again(cmd.org_id, request_id)
            assert again is not None
            return again
        rows = await store.unsent(self.store.pool, request_id)
        try:
            for row in rows:
                await self.hand_off(row)
        except CommandError as exc:
            if exc.code == "SERVICE_TIMEOUT":
                log.warning("double_opt_in_send_unconfirmed", request_id=request_id)  # outbound sends it on the event
            else:
                await self._fail_double_opt_in(cmd.org_id, contact, request_id, exc)
                raise
        log.info("double_opt_in_requested", org_id=cmd.org_id, request_id=request_id)
        return c.DoubleOptInView(id=request_id, status="pending", contact_number=contact,
                                 phone_number_id=number.id, from_=number.e164, confirmation_text=text,
                                 message_id=message_id, created_at=rfc3339(now), expires_at=ev.expires_at,
                                 send_at=rfc3339(goes_at) if goes_at > now else None)

    async def _double_opt_in_again(self, org_id: str, request_id: str) -> c.DoubleOptInView | None:
        """The request a repeat (same chosen id) made, its text handed to outbound if it was not yet
        (outbound keeps one message per id); None when there is none."""
        r = await self.store.pool.fetchrow("SELECT * FROM double_opt_ins WHERE id = $1", request_id)
        if r is None:
            return None
        if r["org_id"] != org_id:
            raise CommandError("CONFLICT", "request_id: already used", 409)
        try:
            for row in await store.unsent(self.store.pool, request_id):
                await self.hand_off(row)
        except CommandError as exc:
            log.warning("double_opt_in_send_unconfirmed", request_id=request_id, error=exc.code)  # outbound sends it on the event
        return c.DoubleOptInView(id=r["id"], status=r["status"], contact_number=r["contact"],
                                 phone_number_id=r["phone_number_id"], from_=r["from_number"],
                                 confirmation_text=r["confirmation_text"], message_id=r["message_id"],
                                 created_at=rfc3339(r["created_at"]), expires_at=rfc3339(r["expires_at"]),
                                 confirmed_at=rfc3339(r["confirmed_at"]) if r["confirmed_at"] else None)

    async def _fail_double_opt_in(self, org_id: str, contact: str, request_id: str, exc: CommandError) -> None:
        async def record() -> None:
            async with self.store.transaction() as conn:
                s = await store.load_state(conn, org_id, contact)
                ev = DoubleOptInExpired(org_id=org_id, occurred_at=self.now(), request_id=request_id,
                                        contact_number=contact, reason="send_failed")
                await store.append_contact(self.store, conn, org_id, contact, s, model.fold(s, [ev]), [ev])
                await conn.execute("UPDATE issued_messages SET handed_off = true, error = $2 WHERE source_event_id = $1",
                                   request_id, f"{exc.code}: {exc.message}")

        await self.retry(record)

    async def expire_double_opt_ins(self) -> int:
        now = self.now()
        rows = await self.store.pool.fetch(
            "SELECT id, org_id, contact FROM double_opt_ins WHERE status = 'pending' AND expires_at <= $1"
            " ORDER BY expires_at LIMIT 200", now)
        for r in rows:
            async def record(r: Any = r) -> None:
                async with self.store.transaction() as conn:
                    s = await store.load_state(conn, r["org_id"], r["contact"])
                    still = await conn.fetchval("SELECT status FROM double_opt_ins WHERE id = $1 FOR UPDATE", r["id"])
                    if still != "pending":
                        return
                    ev = DoubleOptInExpired(org_id=r["org_id"], occurred_at=now, request_id=r["id"],
                                            contact_number=r["contact"], reason="expired")
                    await store.append_contact(self.store, conn, r["org_id"], r["contact"], s,
                                               model.fold(s, [ev]), [ev])

            await self.retry(record)
        return len(rows)

    async def maintenance(self) -> None:
        while True:
            await self.expire_double_opt_ins()
            await asyncio.sleep(self.settings.maintenance_interval_s)

    # -- recorded consent, revocation ---------------------------------------------------------------------
    async def record_consent(self, cmd: c.RecordConsent) -> str:
        contact = e164(cmd.contact_number, "contact_number")
        if cmd.method not in CONSENT_METHODS:
            raise CommandError("VALIDATION_ERROR", f"method: must be one of {', '.join(sorted(CONSENT_METHODS))}",
                               400, {"field": "method"})
        e = cmd.evidence
        if not e.disclosure_text.strip():
            raise CommandError("VALIDATION_ERROR", "evidence.disclosure_text: the consent language shown is required",
                               400, {"field": "evidence.disclosure_text"})
        now = self.now()
        captured = rfc3339(parse_time(e.captured_at, "evidence.captured_at")) if e.captured_at else rfc3339(now)
        evidence = ConsentEvidence(disclosure_text=e.disclosure_text, source_url=e.source_url, ip=e.ip,
                                   user_agent=e.user_agent, captured_at=captured)
        consent_id = chosen_id(cmd.consent_id, "consent_id") if cmd.consent_id is not None else None

        async def record() -> None:
            async with self.store.transaction() as conn:
                s = await store.load_state(conn, cmd.org_id, contact)
                if consent_id is not None and s.consent_id == consent_id:
                    return  # recorded already, by an earlier attempt of the same request
                if s.opted_out and s.opt_out_source != "api":
                    raise CommandError("RECIPIENT_OPTED_OUT",
                                       "the contact opted out by text; only the contact can opt back in, by texting "
                                       "START", 453, {"field": "contact_number"})
                ev = ConsentGranted(org_id=cmd.org_id, occurred_at=now, contact_number=contact,
                                    consent_id=consent_id or new_id(),
                                    method=cmd.method, evidence=evidence)
                await store.append_contact(self.store, conn, cmd.org_id, contact, s, model.fold(s, [ev]), [ev])

        await self.retry(record)
        log.info("consent_recorded", org_id=cmd.org_id, method=cmd.method)
        return contact

    async def revoke_consent(self, cmd: c.RevokeConsent) -> str:
        """An appended opt-out (source api), never a delete; outbound cancels what is queued."""
        contact = e164(cmd.contact_number, "contact_number")
        now = self.now()

        async def record() -> None:
            async with self.store.transaction() as conn:
                s = await store.load_state(conn, cmd.org_id, contact)
                if s.opted_out:
                    return
                events: list[Event] = []
                if s.consent_id:
                    events.append(ConsentRevoked(org_id=cmd.org_id, occurred_at=now, contact_number=contact,
                                                 consent_id=s.consent_id, source="api",
                                                 reason=cmd.reason or "revoked through the API"))
                events.append(OptOutRecorded(org_id=cmd.org_id, occurred_at=now, contact_number=contact,
                                             source="api", matched_rule="DELETE /v1/consent"))
                pending = await store.pending_double_opt_in(conn, cmd.org_id, contact)
                if pending is not None:
                    events.append(DoubleOptInExpired(org_id=cmd.org_id, occurred_at=now, request_id=pending.id,
                                                     contact_number=contact, reason="opted_out"))
                await store.append_contact(self.store, conn, cmd.org_id, contact, s, model.fold(s, events), events)

        await self.retry(record)
        log.info("consent_revoked", org_id=cmd.org_id)
        return contact
