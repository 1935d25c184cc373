"""The send gate's handlers: may this text go to this contact now? The contact's row and policy (read
in batches), what numbers says about the sender, ``model.decide``, the frequency count under a
per-contact lock, and every decision recorded (in batches) with its checks."""

from __future__ import annotations

import asyncio
from datetime import datetime

from proto.base import CommandError, new_id
from proto.commands import compliance as c
from proto.events.compliance import DecisionCheck, GateDecision
from services.compliance import model, policies, store
from services.compliance.context import Handlers
from services.compliance.rules import e164
from services.compliance.store import DecisionLog, GateReader


class Gate(Handlers):
    _decisions: DecisionLog | None = None
    _reader: GateReader | None = None

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

    async def evaluate_send(self, cmd: c.EvaluateSend) -> c.SendDecision:
        to, frm = e164(cmd.to, "to"), e164(cmd.from_, "from")
        row = await self.reader.read(cmd.org_id, to, cmd.message_id)
        state, policy = store.state_of(row), policies.policy_of(row, self.defaults)
        facts = model.SendFacts(org_id=cmd.org_id, message_id=cmd.message_id, from_=frm, to=to, kind=cmd.kind,
                                category=cmd.category, issued_kind=row["issued_kind"] if row else None,
                                send_at=cmd.send_at,
                                # an accepted message over a cap at its final check waits, it does not fail
                                on_frequency_cap=cmd.on_frequency_cap if cmd.stage == "accept" else "defer")
        sender: model.Sender | None = None
        if cmd.dry_run or model.check_opt_out(state, facts).check.result != "fail":
            info = await self.senders.info(cmd.org_id, frm)
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
                at = decision.defer_until or start
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
