"""The send gate's handlers: may this text go to this contact now? The contact's row and policy (read
in batches), what numbers says about the sender, ``model.decide``, the frequency count under a
per-contact lock, and every decision recorded (in batches) with its checks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from proto.base import CommandError, new_id
from proto.commands import compliance as c
from proto.events.compliance import DecisionCheck, GateDecision
from services.compliance import model, policies, store
from services.compliance.context import Handlers
from services.compliance.rules import e164
from services.compliance.store import DecisionLog, GateReader


@dataclass(slots=True)
class _Judged:
    """A well-formed send of a batch, with what the gate read for it."""

    index: int
    state: model.ContactState
    policy: model.Policy
    facts: model.SendFacts
    counted: bool
    """Counted against the caps when it was accepted (this is its final check)."""
    asks_sender: bool
    """Whether the registration check is needed (not after an opt-out deny, unless a dry run)."""
    sender: model.Sender | None = None

    @classmethod
    def of(cls, index: int, cmd: c.EvaluateSend, to: str, frm: str, row: Any, defaults: model.Policy) -> _Judged:
        state, policy = store.state_of(row), policies.policy_of(row, defaults)
        facts = model.SendFacts(
            org_id=cmd.org_id, message_id=cmd.message_id, from_=frm, to=to, kind=cmd.kind, category=cmd.category,
            issued_kind=row["issued_kind"] if row else None, send_at=cmd.send_at,
            # an accepted message over a cap at its final check waits, it does not fail
            on_frequency_cap=cmd.on_frequency_cap if cmd.stage == "accept" else "defer")
        asks_sender = cmd.dry_run or model.check_opt_out(state, facts).check.result != "fail"
        return cls(index, state, policy, facts, bool(row and row["counted"]), asks_sender)


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
        (answer,) = await self._evaluate([cmd])
        if isinstance(answer, CommandError):
            raise answer
        return answer

    async def _evaluate(self, sends: list[c.EvaluateSend]) -> list[c.SendDecision | CommandError]:
        """Each send decided as it would be alone, the batch's work shared: one read of every contact's
        row (``GateReader``), one numbers answer per sending number, the decisions recorded together."""
        out: list[c.SendDecision | CommandError | None] = [None] * len(sends)
        asks: list[tuple[int, str, str]] = []  # (index, to, from) of each well-formed send
        for i, cmd in enumerate(sends):
            try:
                asks.append((i, e164(cmd.to, "to"), e164(cmd.from_, "from")))
            except CommandError as exc:
                out[i] = exc
        rows = await self.reader.read_many([(sends[i].org_id, to, sends[i].message_id) for i, to, _ in asks])
        judged = [_Judged.of(i, sends[i], to, frm, row, self.defaults)
                  for (i, to, frm), row in zip(asks, rows, strict=True)]
        senders = await self._senders({(j.facts.org_id, j.facts.from_) for j in judged if j.asks_sender})
        now = self.now()
        capped: list[_Judged] = []
        for j in judged:
            sender = senders.get((j.facts.org_id, j.facts.from_)) if j.asks_sender else None
            if isinstance(sender, CommandError):
                out[j.index] = sender
                continue
            j.sender = sender
            decision = out[j.index] = model.decide(j.state, j.policy, j.facts, sender, now)
            if decision.decision != "deny" and model.caps_of(j.policy, j.facts):
                capped.append(j)
        if capped:  # each under its contact's lock, side by side
            counted = await asyncio.gather(*(self._count(sends[j.index], j, now) for j in capped))
            for j, decision in zip(capped, counted, strict=True):
                out[j.index] = decision
        await self._record(sends, out, {j.index: j.facts for j in judged}, now)
        answers = [o for o in out if o is not None]
        assert len(answers) == len(sends)
        return answers

    async def _senders(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], model.Sender | CommandError]:
        """What numbers says of each sending number (cached), or its refusal."""
        found = await asyncio.gather(*(self.senders.info(o, n) for o, n in keys), return_exceptions=True)
        out: dict[tuple[str, str], model.Sender | CommandError] = {}
        for key, info in zip(keys, found, strict=True):
            if isinstance(info, CommandError):
                out[key] = info
            elif isinstance(info, BaseException):
                raise info
            else:
                out[key] = model.Sender(info.sending_enabled, info.reason_code, info.reason)
        return out

    async def _record(self, sends: list[c.EvaluateSend], out: list[c.SendDecision | CommandError | None],
                      facts: dict[int, model.SendFacts], now: datetime) -> None:
        """Every decision but a dry run's, on the ledger before any is answered; each gets its id."""
        entries = []
        for i, (cmd, decision) in enumerate(zip(sends, out, strict=True)):
            if cmd.dry_run or not isinstance(decision, c.SendDecision):
                continue
            f = facts[i]
            decision.decision_id = new_id()
            entries.append((cmd.org_id, GateDecision(
                decision_id=decision.decision_id, decided_at=now, message_id=cmd.message_id, stage=cmd.stage,
                from_number=f.from_, contact_number=f.to, kind=f.effective_kind, category=cmd.category,
                decision=decision.decision, code=decision.code, reason=decision.reason,
                defer_until=decision.defer_until,
                checks=[DecisionCheck(name=k.name, result=k.result, detail=k.detail) for k in decision.checks])))
        if entries:
            await self.decisions.record_many(entries)

    async def _count(self, cmd: c.EvaluateSend, j: _Judged, now: datetime) -> c.SendDecision:
        """The decision under the frequency caps: the contact's allowed sends are counted and this one added,
        under a per-contact lock (every replica), so two sends at once cannot both take the last slot."""
        state, policy, facts, sender = j.state, j.policy, j.facts, j.sender
        if j.counted:  # accepted (and counted) earlier: this is its final check
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
        return c.SendOutcomes(results=[
            c.SendOutcome(error=a.body()) if isinstance(a, CommandError) else c.SendOutcome(decision=a)
            for a in await self._evaluate(list(cmd.sends))])
