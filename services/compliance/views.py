"""compliance reads: a contact's consent state and full history, the consent list, the ledger export,
and the organization's policy (settings) with its changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from libs.runtime.service import Service
from libs.store import Sql, Write, given, sql, where
from proto.api import page_after, time_cursor
from proto.base import CommandError, Event, api_values, parse_time, parse_uuid, rfc3339
from proto.commands import compliance as c
from proto.events import decode_event
from proto.events.compliance import CompliancePolicyChanged, ConsentEvidence, ConsentGranted
from services.compliance import model, policies, store
from services.compliance.frequency import Cap
from services.compliance.handlers import Compliance
from services.compliance.rules import e164

_ENVELOPE_FIELDS = frozenset({"type", "org_id", "event_id", "occurred_at", "correlation_id", "causation_id"})
_FLATTENED = _ENVELOPE_FIELDS | {"contact_number", "method", "source", "matched_rule", "keyword", "evidence"}
_EXPORT_PAGE_BYTES = 400_000
def _contact_key(raw: str) -> str | None:
    """A page cursor's contact, or None when it is no contact of ours."""
    return raw if raw.isprintable() and len(raw) <= 40 else None


_CONTACT_COLS = ("contact, version, consent_id, consent_method, consent_granted_at, consent_evidence::text AS ev,"
                 " opted_out, opted_out_at, opt_out_source, opt_out_rule, opt_out_confirmation_id, last_inbound_at,"
                 " status, updated_at")


def _ts(v: datetime | None) -> str | None:
    return rfc3339(v) if v is not None else None


def _ledger_entry(raw: str) -> tuple[Event, dict[str, Any]]:
    """A ledger event (its older shapes upcast) and its fields as the API shows them: times in the API's
    format, the evidence as the evidence view (``""`` for a time it has not)."""
    ev = decode_event(raw)
    data: dict[str, Any] = api_values(ev)
    if isinstance(ev, ConsentGranted):
        data["evidence"] = msgspec.to_builtins(c.evidence_view(ev.evidence))
    return ev, data


def _doi_view(r: asyncpg.Record) -> c.DoubleOptInView:
    return c.DoubleOptInView(id=r["id"], status=r["status"], contact_number=r["contact"],
                             phone_number_id=r["phone_number_id"], from_=r["from_number"],
                             confirmation_text=r["confirmation_text"], message_id=r["message_id"],
                             created_at=rfc3339(r["created_at"]), expires_at=rfc3339(r["expires_at"]),
                             confirmed_at=_ts(r["confirmed_at"]))


def _view(contact: str, r: asyncpg.Record | None, pending: asyncpg.Record | None) -> c.ConsentView:
    if r is None or r["version"] == 0:
        return c.ConsentView(contact_number=contact, status="none",
                             last_inbound_at=_ts(r["last_inbound_at"]) if r is not None else None,
                             pending_double_opt_in=_doi_view(pending) if pending else None)
    consent = None
    if r["consent_id"] and not r["opted_out"]:
        ev = msgspec.json.decode(r["ev"], type=c.EvidenceView) if r["ev"] else c.EvidenceView()
        consent = c.ConsentRecordView(id=r["consent_id"], method=r["consent_method"],
                                      granted_at=rfc3339(r["consent_granted_at"]), evidence=ev)
    return c.ConsentView(
        contact_number=r["contact"], status=r["status"], consent=consent, opted_out_at=_ts(r["opted_out_at"]),
        opt_out_source=r["opt_out_source"], opt_out_rule=r["opt_out_rule"],
        last_inbound_at=_ts(r["last_inbound_at"]),
        pending_double_opt_in=_doi_view(pending) if pending else None, updated_at=_ts(r["updated_at"]))


def _settings_view(p: model.Policy, updated_at: datetime | None) -> c.ComplianceSettings:
    return c.ComplianceSettings(
        quiet_hours_enabled=p.quiet_hours_enabled, quiet_hours_action=p.quiet_hours_action,
        conversation_window_enabled=p.conversation_window_enabled,
        conversation_window_hours=p.conversation_window_hours,
        double_opt_in_expiry_hours=p.double_opt_in_expiry_hours, help_reply=p.help_reply,
        opt_out_reply=p.opt_out_reply, opt_in_reply=p.opt_in_reply, frequency_caps=_caps_out(p.frequency_caps),
        frequency_cap_action=p.frequency_cap_action, updated_at=_ts(updated_at))


def _caps_out(caps: tuple[Cap, ...]) -> list[c.FrequencyCap]:
    return [c.FrequencyCap(category=x.category, max=x.max, window_hours=x.window_hours)  # type: ignore[arg-type]
            for x in caps]


class Views:
    def __init__(self, svc: Service, h: Compliance):
        self.svc = svc
        self.h = h

    async def _fetch(self, query: Sql) -> list[asyncpg.Record]:
        text, args = query.compile()
        rows: list[asyncpg.Record] = await self.svc.store.pool.fetch(text, *args)
        return rows

    async def consent(self, org_id: str, contact: str) -> c.ConsentView:
        pool = self.svc.store.pool
        row = await pool.fetchrow(f"SELECT {_CONTACT_COLS} FROM contacts WHERE org_id = $1 AND contact = $2",
                                  org_id, contact)
        pending = await pool.fetchrow(
            "SELECT * FROM double_opt_ins WHERE org_id = $1 AND contact = $2 AND status = 'pending'"
            " AND expires_at > $3 ORDER BY created_at DESC LIMIT 1", org_id, contact, self.h.now())
        return _view(contact, row, pending)

    async def get_consent(self, cmd: c.GetConsent) -> c.ConsentDetail:
        contact = e164(cmd.contact_number, "contact_number")
        view = await self.consent(cmd.org_id, contact)
        rows = await self.svc.store.pool.fetch(
            "SELECT event_id::text, event_type, data::text AS data FROM events WHERE stream_id = $1 ORDER BY version",
            store.contact_stream(cmd.org_id, contact))
        history = []
        for r in rows:
            ev, data = _ledger_entry(r["data"])
            history.append(c.HistoryEntry(event_id=r["event_id"], type=r["event_type"],
                                          occurred_at=rfc3339(ev.occurred_at),
                                          details={k: v for k, v in data.items() if k not in _ENVELOPE_FIELDS}))
        return c.ConsentDetail(**{f: getattr(view, f) for f in view.__struct_fields__}, history=history)

    async def list_consent(self, cmd: c.ListConsent) -> c.ConsentPage:
        after_ts, after_contact = page_after(cmd.cursor, key=_contact_key)
        cond = where(sql("org_id = :org AND version > 0", org=cmd.org_id), given("status = :v", v=cmd.status),
                     given("consent_method = :v", v=cmd.method),
                     given("(created_at, contact) < (:ts, :contact::text)", ts=after_ts, contact=after_contact))
        rows = await self._fetch(sql(f"SELECT {_CONTACT_COLS}, created_at FROM contacts WHERE :cond"
                                     " ORDER BY created_at DESC, contact DESC LIMIT :limit", cond=cond,
                                     limit=cmd.limit + 1))
        more = len(rows) > cmd.limit
        rows = rows[: cmd.limit]
        pendings = {r["contact"]: r for r in await self.svc.store.pool.fetch(
            "SELECT DISTINCT ON (contact) * FROM double_opt_ins WHERE org_id = $1 AND contact = ANY($2::text[])"
            " AND status = 'pending' AND expires_at > $3 ORDER BY contact, created_at DESC",
            cmd.org_id, [r["contact"] for r in rows], self.h.now())}
        data = [_view(r["contact"], r, pendings.get(r["contact"])) for r in rows]
        nxt = time_cursor(rows[-1]["created_at"], rows[-1]["contact"]) if more and rows else None
        return c.ConsentPage(data=data, next_cursor=nxt)

    async def export(self, cmd: c.ExportConsent) -> c.ExportPage:
        """One page of the ledger, cut by rows and by size so it fits in one NATS message."""
        limit = max(1, min(cmd.limit, 1000))
        since = parse_time(cmd.since, "since") if cmd.since else None
        until = parse_time(cmd.until, "until") if cmd.until else None
        cond = where(sql("org_id = :org AND stream_id LIKE 'contact-%' AND position > :after", org=cmd.org_id,
                         after=cmd.after),
                     given("(data->>'occurred_at')::timestamptz >= :v", v=since),
                     given("(data->>'occurred_at')::timestamptz < :v", v=until))
        rows = await self._fetch(sql("SELECT position, event_id::text, event_type, data::text AS data FROM events"
                                     " WHERE :cond ORDER BY position LIMIT :limit", cond=cond, limit=limit))
        out: list[c.LedgerRow] = []
        size = 0
        for r in rows:
            if out and size + len(r["data"]) > _EXPORT_PAGE_BYTES:
                return c.ExportPage(rows=out, next_after=out[-1].position)
            size += len(r["data"])
            ev, data = _ledger_entry(r["data"])
            evidence = getattr(ev, "evidence", None)
            out.append(c.LedgerRow(
                position=r["position"], event_id=r["event_id"], type=r["event_type"],
                occurred_at=rfc3339(ev.occurred_at),
                contact_number=str(data.get("contact_number", "")), method=str(data.get("method", "")),
                source=str(data.get("source", "")), matched_rule=str(data.get("matched_rule", "")),
                keyword=str(data.get("keyword", "")),
                evidence=c.evidence_view(evidence) if isinstance(evidence, ConsentEvidence) else None,
                details={k: v for k, v in data.items() if k not in _FLATTENED}))
        return c.ExportPage(rows=out, next_after=rows[-1]["position"] if len(rows) == limit else None)

    # -- the audit of gate decisions -------------------------------------------------------------------
    async def decisions(self, cmd: c.ListDecisions) -> c.DecisionPage:
        since = parse_time(cmd.since, "since") if cmd.since else None
        until = parse_time(cmd.until, "until") if cmd.until else None
        contact = e164(cmd.contact, "contact") if cmd.contact else None
        after_ts, after_id = page_after(cmd.cursor)
        if cmd.message_id and parse_uuid(cmd.message_id) is None:
            raise CommandError("VALIDATION_ERROR", "message_id: must be a UUID", 400, {"field": "message_id"})
        limit = max(1, min(cmd.limit, 1000))
        order, cmp = ("ASC", ">") if cmd.ascending else ("DESC", "<")
        cond = where(sql("org_id = :org", org=cmd.org_id), given("contact_number = :v", v=contact),
                     given("outcome = :v", v=cmd.outcome),
                     given("(reason_code = :v OR code = :v)", v=cmd.reason.strip().upper() if cmd.reason else None),
                     given("message_id = :v", v=cmd.message_id),
                     given("decided_at >= :v", v=since), given("decided_at < :v", v=until),
                     given(f"(decided_at, decision_id) {cmp} (:ts, :id::uuid)", ts=after_ts, id=after_id))
        rows = await self._fetch(sql(
            "SELECT decision_id::text AS id, decided_at, message_id, stage, from_number, contact_number, kind,"
            " category, outcome, code, reason_code, reason, defer_until, checks::text AS checks FROM gate_decisions"
            f" WHERE :cond ORDER BY decided_at {order}, decision_id {order} LIMIT :limit", cond=cond, limit=limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        data = [c.DecisionView(
            id=r["id"], decided_at=rfc3339(r["decided_at"]), message_id=r["message_id"], stage=r["stage"],
            from_=r["from_number"], contact_number=r["contact_number"], kind=r["kind"], category=r["category"],
            outcome=r["outcome"], code=r["code"], reason_code=r["reason_code"], reason=r["reason"],
            defer_until=r["defer_until"], checks=msgspec.json.decode(r["checks"], type=list[c.Check]))
            for r in rows]
        nxt = time_cursor(rows[-1]["decided_at"], rows[-1]["id"]) if more and rows else None
        return c.DecisionPage(data=data, next_cursor=nxt)

    # -- settings ---------------------------------------------------------------------------------------
    async def get_settings(self, cmd: c.GetSettings) -> c.ComplianceSettings:
        row = await self.svc.store.pool.fetchrow("SELECT updated_at FROM org_settings WHERE org_id = $1", cmd.org_id)
        policy, _ = await policies.load_policy(self.svc.store.pool, cmd.org_id, self.h.defaults)
        return _settings_view(policy, row["updated_at"] if row else None)

    async def update_settings(self, cmd: c.UpdateSettings) -> c.ComplianceSettings:
        fields = ("quiet_hours_enabled", "quiet_hours_action", "conversation_window_enabled",
                  "conversation_window_hours", "double_opt_in_expiry_hours", "help_reply", "opt_out_reply",
                  "opt_in_reply", "frequency_caps", "frequency_cap_action")
        if cmd.frequency_caps is not msgspec.UNSET:
            if len(cmd.frequency_caps) > 10:
                raise CommandError("VALIDATION_ERROR", "frequency_caps: at most 10 caps", 400,
                                   {"field": "frequency_caps"})
            for i, cap in enumerate(cmd.frequency_caps):
                if not 1 <= cap.max <= 1000:
                    raise CommandError("VALIDATION_ERROR", "max: must be 1 to 1000", 400,
                                       {"field": f"frequency_caps.{i}.max"})
                if not 1 <= cap.window_hours <= 24 * 30:
                    raise CommandError("VALIDATION_ERROR", "window_hours: must be 1 to 720", 400,
                                       {"field": f"frequency_caps.{i}.window_hours"})
        for name in ("conversation_window_hours", "double_opt_in_expiry_hours"):
            v = getattr(cmd, name)
            if v is not msgspec.UNSET and not (isinstance(v, int) and 1 <= v <= 24 * 30):
                raise CommandError("VALIDATION_ERROR", f"{name}: must be 1 to 720 hours", 400, {"field": name})
        for name in ("help_reply", "opt_out_reply", "opt_in_reply"):  # a blank one would be texted as it is
            if isinstance(v := getattr(cmd, name), str) and not v.strip():
                raise CommandError("VALIDATION_ERROR", f"{name}: must not be blank (null restores the default)",
                                   400, {"field": name})
        now = self.h.now()
        async with self.svc.store.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"policy-{cmd.org_id}")
            policy, version = await policies.load_policy(conn, cmd.org_id, self.h.defaults)
            asked = {f: getattr(cmd, f) for f in fields if getattr(cmd, f) is not msgspec.UNSET}
            if not isinstance(cmd.frequency_caps, msgspec.UnsetType):  # the policy holds them as the model's caps
                asked["frequency_caps"] = tuple(Cap(x.category, x.max, x.window_hours) for x in cmd.frequency_caps)
            changes = {f: v for f, v in asked.items() if v != getattr(policy, f)}
            if changes:
                new = model.Policy(**{**{f: getattr(policy, f) for f in fields}, **changes})
                values = {f: getattr(new, f) for f in fields}
                values["frequency_caps"] = _caps_out(new.frequency_caps)
                w = Write().append(f"policy-{cmd.org_id}", version, [CompliancePolicyChanged(
                    org_id=cmd.org_id, occurred_at=now, changed=sorted(changes), **values)])
                w.project(sql(
                    "INSERT INTO org_settings (org_id, version, quiet_hours_enabled, quiet_hours_action,"
                    " conversation_window_enabled, conversation_window_hours, double_opt_in_expiry_hours,"
                    " help_reply, opt_out_reply, opt_in_reply, updated_at, frequency_caps, frequency_cap_action)"
                    " VALUES (:org, :version, :qh, :qh_action, :cw, :cw_hours, :doi_hours, :help, :opt_out, :opt_in,"
                    " :at, :caps::jsonb, :cap_action)"
                    " ON CONFLICT (org_id) DO UPDATE SET version = :version, quiet_hours_enabled = :qh,"
                    " quiet_hours_action = :qh_action, conversation_window_enabled = :cw,"
                    " conversation_window_hours = :cw_hours, double_opt_in_expiry_hours = :doi_hours,"
                    " help_reply = :help, opt_out_reply = :opt_out, opt_in_reply = :opt_in, updated_at = :at,"
                    " frequency_caps = :caps::jsonb, frequency_cap_action = :cap_action",
                    org=cmd.org_id, version=version + 1, qh=new.quiet_hours_enabled, qh_action=new.quiet_hours_action,
                    cw=new.conversation_window_enabled, cw_hours=new.conversation_window_hours,
                    doi_hours=new.double_opt_in_expiry_hours, help=new.help_reply, opt_out=new.opt_out_reply,
                    opt_in=new.opt_in_reply, at=now, caps=msgspec.json.encode(values["frequency_caps"]).decode(),
                    cap_action=new.frequency_cap_action))
                await self.svc.store.write(w, conn)
        return await self.get_settings(c.GetSettings(org_id=cmd.org_id))
