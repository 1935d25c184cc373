"""compliance command handlers that write the contact ledger: inbound keywords, double opt-in, recorded
consent and revocation (the send gate is in ``gate``). load → decide (model) → append + project, in one
transaction. Our own texts (replies, a double opt-in's confirmation) are events: outbound consumes them
and sends each under the deterministic message id recorded with it; compliance never calls outbound."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

import structlog

from libs.cache import TtlCache
from libs.store.eventstore import ConcurrencyError
from libs.store.processed import claim
from proto.base import CommandError, Event, chosen_or_new_id, rfc3339
from proto.commands import compliance as c
from proto.commands.numbers import GetNumber, NumberRef
from proto.events.compliance import (
    DoubleOptInExpired,
    DoubleOptInRequested,
)
from proto.events.inbound import InboundMessageReceived
from proto.events.outbound import ReplyRefused
from proto.keywords import keyword_of
from services.compliance import model, policies, store
from services.compliance.context import Handlers
from services.compliance.keywords import classify
from services.compliance.replies import Outcome, Outcomes
from services.compliance.rules import e164
from services.compliance.rules import normalize as _normalize

log = structlog.get_logger(__name__)

KEYWORDS_CONSUMER = "compliance-keywords"
CAMPAIGNS_CONSUMER = "compliance-campaigns"
UNCOUNT_CONSUMER = "compliance-frequency-uncount"
REFUSALS_CONSUMER = "compliance-reply-refusals"
_MAX_KEYWORD = 40
"""Longer folded texts cannot be a campaign keyword (numbers allows 30 characters)."""
SCREENED_KEPT_S = 300.0
"""How long this replica remembers a text it screened (the keywords consumer meets it within moments)."""
T = TypeVar("T")


class Compliance(Handlers):
    @functools.cached_property
    def outcomes(self) -> Outcomes:
        """What became of the texts this replica recorded, as outbound tells (``replies``)."""
        return Outcomes(self.svc)

    @functools.cached_property
    def screened(self) -> TtlCache[str, bool]:
        """The inbound texts this replica screened for inbound, by event id, recorded: the keywords consumer
        meets each again moments later (its safety net) and need not ask the database whether it is done."""
        return TtlCache(SCREENED_KEPT_S, max_entries=100_000)

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

    # -- inbound keywords ----------------------------------------------------------------------------------
    async def texts(self, org_id: str, our_number: str) -> model.Texts:
        try:
            info = await self.senders.info(org_id, our_number, timeout=2.0)
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
        return contact, ev.received_at

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
        for ev in events:
            self.screened.put(ev.event_id, True)
        return c.InboundScreened(screened=len(events))

    async def absorb_consumed(self, events: list[Event]) -> set[str]:
        """The keywords consumer's bulk path: the texts this replica screened are done; the others (screened
        by another replica, or stored before screening) through ``absorb_inbound``."""
        done = {ev.event_id for ev in events if self.screened.take(ev.event_id)}
        return done | await self.absorb_inbound([ev for ev in events if ev.event_id not in done])

    async def on_consumed(self, ev: Event) -> None:
        """The keywords consumer's one-by-one path (``absorb_consumed``'s rule)."""
        if not self.screened.take(ev.event_id):
            await self.on_inbound(ev)

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
                                help_message=campaign[2] or texts.help_message, opt_in_message=campaign[3] or None)
        m = model.Inbound(event_id=ev.event_id, message_id=ev.message_id, org_id=ev.org_id, contact=contact,
                          our_number=ev.to, phone_number_id=ev.phone_number_id, body=ev.body, received_at=received)

        async def apply() -> None:  # (its ReplyIssued events are what outbound sends)
            async with self.store.transaction() as conn:
                if await claim(conn, KEYWORDS_CONSUMER, ev.event_id):
                    await store.touch_inbound(conn, ev.org_id, contact, received)
                    if cls.intent is not None:
                        s = await store.load_state(conn, ev.org_id, contact)
                        pending = await store.pending_double_opt_in(conn, ev.org_id, contact, ev.phone_number_id)
                        policy, _ = await policies.load_policy(conn, ev.org_id, self.defaults)
                        events = model.on_inbound(s, cls, pending, m, policy, texts, self.now())
                        await store.append_contact(self.store, conn, ev.org_id, contact, s, model.fold(s, events),
                                                   events, ev.event_id)
                        log.info("inbound_keyword", org_id=ev.org_id, intent=cls.intent, rule=cls.rule,
                                 source=cls.source, language=cls.language, events=[e.type_name() for e in events])

        await self.retry(apply)

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
        request_id = chosen_or_new_id(cmd.request_id, "request_id")
        again = await self._double_opt_in_again(cmd.org_id, request_id) if cmd.request_id is not None else None
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
                policy, _ = await policies.load_policy(conn, cmd.org_id, self.defaults)
                goes_at = model.double_opt_in_send_time(policy, number.e164, contact, message_id, cmd.org_id, now)
                ev = DoubleOptInRequested(
                    org_id=cmd.org_id, occurred_at=now, request_id=request_id, contact_number=contact,
                    phone_number_id=number.id, from_number=number.e164, confirmation_text=text,
                    message_id=message_id,
                    expires_at=goes_at + timedelta(hours=policy.double_opt_in_expiry_hours))
                await store.append_contact(self.store, conn, cmd.org_id, contact, s, model.fold(s, [ev]), [ev],
                                           request_id)
                return ev

        async with self.outcomes.watch(cmd.org_id, message_id) as outcome:
            ev = await self.retry(record)
            if ev is None:
                again = await self._double_opt_in_again(cmd.org_id, request_id)
                assert again is not None
                return again
            await self._answered(outcome, ev)
        log.info("double_opt_in_requested", org_id=cmd.org_id, request_id=request_id)
        return c.DoubleOptInView(id=request_id, status="pending", contact_number=contact,
                                 phone_number_id=number.id, from_=number.e164, confirmation_text=text,
                                 message_id=message_id, created_at=rfc3339(now), expires_at=rfc3339(ev.expires_at),
                                 send_at=rfc3339(goes_at) if goes_at > now else None)

    async def _answered(self, outcome: Outcome, ev: DoubleOptInRequested) -> None:
        """Wait (bounded) for outbound's word on the request's text, which it sends because it consumed
        the event: accepted (the message readable now), or refused — the request's error, the double opt-in
        ended (as compliance's consumer of ReplyRefused also does). No word in time: the answer is pending
        and the text still goes out on the event."""
        if not await outcome.wait(self.settings.double_opt_in_wait_s):
            log.warning("double_opt_in_send_unconfirmed", request_id=ev.request_id)
        elif outcome.refused is not None:
            await self.end_double_opt_in(ev.org_id, ev.contact_number, ev.request_id, "send_failed")
            raise outcome.refused

    async def _double_opt_in_again(self, org_id: str, request_id: str) -> c.DoubleOptInView | None:
        """The request a repeat (same chosen id) made, as it stands (its text goes out on its event, once:
        outbound keeps one message per id); None when there is none."""
        r = await self.store.pool.fetchrow("SELECT * FROM double_opt_ins WHERE id = $1", request_id)
        if r is None:
            return None
        if r["org_id"] != org_id:
            raise CommandError("CONFLICT", "request_id: already used", 409)
        return c.DoubleOptInView(id=r["id"], status=r["status"], contact_number=r["contact"],
                                 phone_number_id=r["phone_number_id"], from_=r["from_number"],
                                 confirmation_text=r["confirmation_text"], message_id=r["message_id"],
                                 created_at=rfc3339(r["created_at"]), expires_at=rfc3339(r["expires_at"]),
                                 confirmed_at=rfc3339(r["confirmed_at"]) if r["confirmed_at"] else None)

    async def end_double_opt_in(self, org_id: str, contact: str, request_id: str, reason: str) -> bool:
        """DoubleOptInExpired (``expired``, or ``send_failed``: outbound refused its text) if the double
        opt-in is still pending; False when it is not (confirmed, ended already: a repeat changes nothing)."""
        async def record() -> bool:
            async with self.store.transaction() as conn:
                s = await store.load_state(conn, org_id, contact)
                still = await conn.fetchval("SELECT status FROM double_opt_ins WHERE id = $1 AND org_id = $2"
                                            " FOR UPDATE", request_id, org_id)
                if still != "pending":
                    return False
                ev = DoubleOptInExpired(org_id=org_id, occurred_at=self.now(), request_id=request_id,
                                        contact_number=contact, reason=reason)
                await store.append_contact(self.store, conn, org_id, contact, s, model.fold(s, [ev]), [ev])
                return True

        ended = await self.retry(record)
        if ended:
            log.info("double_opt_in_ended", org_id=org_id, request_id=request_id, reason=reason)
        return ended

    async def on_reply_refused(self, ev: Event) -> None:
        """Outbound refused a text we recorded: a double opt-in whose confirmation it was ends (send_failed);
        a refused reply (to an opted-out contact, say) leaves nothing to undo."""
        if isinstance(ev, ReplyRefused) and ev.request_id:
            await self.end_double_opt_in(ev.org_id, ev.contact_number, ev.request_id, "send_failed")

    async def expire_double_opt_ins(self) -> int:
        rows = await self.store.pool.fetch(
            "SELECT id, org_id, contact FROM double_opt_ins WHERE status = 'pending' AND expires_at <= $1"
            " ORDER BY expires_at LIMIT 200", self.now())
        for r in rows:
            await self.end_double_opt_in(r["org_id"], r["contact"], r["id"], "expired")
        return len(rows)

    async def maintenance(self) -> None:
        while True:
            await self.expire_double_opt_ins()
            await asyncio.sleep(self.settings.maintenance_interval_s)
