"""Routes: consent (double opt-in, recorded consent, state and history, revocation, audit export), the
compliance check (the gate as a dry run) and the organization's compliance settings."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import msgspec
from aiohttp import web

from proto.api import E164_PATTERN
from proto.base import CommandError, new_id
from proto.commands import compliance as c
from proto.http.compliance import (
    CheckBody,
    ConsentListQuery,
    DecisionExportQuery,
    DecisionsQuery,
    DoubleOptInBody,
    ExportQuery,
    RecordConsentBody,
    SendDecision,
    SettingsPatch,
)
from services.gateway.api import Ctx, Reply, Route

_EXPORT_PAGE = 500
CSV_COLUMNS = ("position", "event_id", "type", "occurred_at", "contact_number", "method", "source", "matched_rule",
               "keyword", "disclosure_text", "source_url", "ip", "user_agent", "captured_at", "phone_number_id",
               "double_opt_in_id", "confirmation_text", "confirmation_message_id", "confirmation_sent_at",
               "reply_message_id", "reply_text", "reply_received_at", "details")
DECISION_COLUMNS = ("id", "decided_at", "message_id", "stage", "from", "contact_number", "kind", "category", "outcome",
                    "code", "reason_code", "reason", "defer_until", "check_results", "checks")
_enc = msgspec.json.Encoder()


async def double_opt_in(ctx: Ctx) -> Reply:
    b: DoubleOptInBody = ctx.body
    res = await ctx.call(c.RequestDoubleOptIn(
        org_id=ctx.org_id, phone_number_id=b.phone_number_id, contact_number=ctx.phone(b.contact_number,
                                                 "contact_number"),
        confirmation_text=b.confirmation_text, request_id=ctx.resource_id))
    return Reply(res, status=202)


async def record_consent(ctx: Ctx) -> Reply:
    b: RecordConsentBody = ctx.body
    e = b.evidence
    res = await ctx.call(c.RecordConsent(
        org_id=ctx.org_id, contact_number=ctx.phone(b.contact_number, "contact_number"), method=b.method,
        evidence=c.EvidenceView(disclosure_text=e.disclosure_text, source_url=e.source_url, ip=e.ip,
                                user_agent=e.user_agent, captured_at=e.captured_at),
        consent_id=ctx.resource_id))
    return Reply(res, status=201)


async def list_consent(ctx: Ctx) -> Reply:
    q: ConsentListQuery = ctx.query
    page = await ctx.call(c.ListConsent(
        org_id=ctx.org_id, status=q.status, method=q.method, limit=q.limit, cursor=q.cursor))
    return Reply.page(page)


async def get_consent(ctx: Ctx) -> Reply:
    contact = ctx.phone(ctx.path["contact_number"], "contact_number")
    return Reply(await ctx.call(c.GetConsent(org_id=ctx.org_id, contact_number=contact)))


async def revoke_consent(ctx: Ctx) -> Reply:
    contact = ctx.phone(ctx.path["contact_number"], "contact_number")
    return Reply(await ctx.call(c.RevokeConsent(org_id=ctx.org_id, contact_number=contact)))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(E164_PATTERN)


def _cell(v: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text an untrusted party wrote (a disclosure, a user agent, a
    reply) that starts like a formula (``=1+2``, ``@SUM(…)``, ``+HYPERLINK(…)``) gets a leading ``'`` (the
    OWASP rule); phone numbers (E.164) stay as they are. The JSONL export is the data unchanged."""
    if isinstance(v, str) and v.startswith(_FORMULA_START) and not _E164.fullmatch(v):
        return "'" + v
    return v


class _SafeWriter:
    def __init__(self, buf: io.StringIO):
        self._w = csv.writer(buf, lineterminator="\n")

    def writerow(self, row: Sequence[Any]) -> None:
        self._w.writerow([_cell(v) for v in row])


def _csv_rows(rows: list[c.LedgerRow]) -> bytes:
    buf = io.StringIO()
    w = _SafeWriter(buf)
    for r in rows:
        ev = r.evidence or c.EvidenceView()
        w.writerow([r.position, r.event_id, r.type, r.occurred_at, r.contact_number, r.method, r.source,
                    r.matched_rule, r.keyword, ev.disclosure_text, ev.source_url, ev.ip, ev.user_agent,
                    ev.captured_at, ev.phone_number_id, ev.double_opt_in_id, ev.confirmation_text,
                    ev.confirmation_message_id, ev.confirmation_sent_at, ev.reply_message_id, ev.reply_text,
                    ev.reply_received_at, _enc.encode(r.details).decode() if r.details else ""])
    return buf.getvalue().encode()


def _decision_csv(rows: list[c.DecisionView]) -> bytes:
    buf = io.StringIO()
    w = _SafeWriter(buf)
    for d in rows:
        results = "; ".join(f"{k.name}={k.result}" + (f" ({k.detail})" if k.detail else "") for k in d.checks)
        w.writerow([d.id, d.decided_at, d.message_id, d.stage, d.from_, d.contact_number, d.kind, d.category,
                    d.outcome, d.code or "", d.reason_code or "", d.reason, d.defer_until or "", results,
                    _enc.encode(d.checks).decode()])
    return buf.getvalue().encode()


async def _stream_export(ctx: Ctx, fmt: str, filename: str, columns: Sequence[str],
                         pages: AsyncIterator[Sequence[Any]], to_csv: Callable[[Any], bytes]) -> web.StreamResponse:
    """Streams pages as CSV (a header, then rows) or JSONL. The first page is fetched before the first
    byte, so an error there still gets the envelope."""
    rows = await anext(pages)
    ctype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    resp = web.StreamResponse(status=200, headers={
        "Content-Type": f"{ctype}; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{filename}.{fmt}"'})
    await resp.prepare(ctx.request)
    if fmt == "csv":
        await resp.write((",".join(columns) + "\n").encode())
    while True:
        await resp.write(to_csv(rows) if fmt == "csv" else b"".join(_enc.encode(r) + b"\n" for r in rows))
        try:
            rows = await anext(pages)
        except StopAsyncIteration:
            break
    await resp.write_eof()
    return resp


async def export_consent(ctx: Ctx) -> web.StreamResponse:
    """Streams the whole ledger page by page."""
    q: ExportQuery = ctx.query

    async def pages() -> AsyncIterator[list[c.LedgerRow]]:
        after: int | None = 0
        while after is not None:
            res: c.ExportPage = await ctx.call(c.ExportConsent(
                org_id=ctx.org_id, after=after, limit=_EXPORT_PAGE, since=q.since, until=q.until))
            yield res.rows
            after = res.next_after

    return await _stream_export(ctx, q.format, "consent-ledger", CSV_COLUMNS, pages(), _csv_rows)


async def list_decisions(ctx: Ctx) -> Reply:
    q: DecisionsQuery = ctx.query
    page = await ctx.call(c.ListDecisions(
        org_id=ctx.org_id, contact=ctx.phone(q.contact, "contact") if q.contact else None, outcome=q.outcome,
        reason=q.reason, message_id=q.message_id, since=q.since, until=q.until, limit=q.limit, cursor=q.cursor))
    return Reply.page(page)


async def export_decisions(ctx: Ctx) -> web.StreamResponse:
    """Streams every matching decision, oldest first, page by page."""
    q: DecisionExportQuery = ctx.query
    contact = ctx.phone(q.contact, "contact") if q.contact else None

    async def pages() -> AsyncIterator[list[c.DecisionView]]:
        cursor: str | None = None
        while True:
            res: c.DecisionPage = await ctx.call(c.ListDecisions(
                org_id=ctx.org_id, contact=contact, outcome=q.outcome, reason=q.reason, since=q.since,
                until=q.until, limit=_EXPORT_PAGE, cursor=cursor, ascending=True))
            yield res.data
            if res.next_cursor is None:
                return
            cursor = res.next_cursor

    return await _stream_export(ctx, q.format, "gate-decisions", DECISION_COLUMNS, pages(), _decision_csv)


async def check(ctx: Ctx) -> Reply:
    b: CheckBody = ctx.body
    from_ = ctx.phone(b.from_, "from")
    try:
        res = await ctx.call(c.EvaluateSend(
            org_id=ctx.org_id, message_id=new_id(), from_=from_, to=ctx.phone(b.to, "to"),
            text=b.text, category=b.category, dry_run=True, on_frequency_cap=b.on_frequency_cap))
    except CommandError as exc:
        if exc.code != "NOT_FOUND":  # numbers knows no such number of the organization: what a send answers
            raise
        raise CommandError("FROM_NUMBER_NOT_FOUND", f"from: {from_} is not one of your organization's numbers",
                           400, {"field": "from"}) from exc
    return Reply(SendDecision.of(res))


async def get_settings(ctx: Ctx) -> Reply:
    return Reply(await ctx.call(c.GetSettings(org_id=ctx.org_id)))


async def update_settings(ctx: Ctx) -> Reply:
    b: SettingsPatch = ctx.body
    fields = {f: getattr(b, f) for f in b.__struct_fields__ if getattr(b, f) is not msgspec.UNSET}
    if "frequency_caps" in fields:
        fields["frequency_caps"] = [c.FrequencyCap(category=x.category, max=x.max, window_hours=x.window_hours)
                                    for x in fields["frequency_caps"]]
    return Reply(await ctx.call(c.UpdateSettings(org_id=ctx.org_id, **fields)))


_CONSENT_ERRORS = ("RECIPIENT_OPTED_OUT",)
ROUTES = [
    Route("POST", "/v1/consent/double-opt-in", double_opt_in, "Text a contact a double opt-in confirmation",
          "consent", body=DoubleOptInBody, response=c.DoubleOptInView, status=202,
          errors=("RECIPIENT_OPTED_OUT", "DOUBLE_OPT_IN_RATE_LIMITED", "NOT_FOUND", "SENDING_NOT_ENABLED",
                  "QUIET_HOURS"),
          description="Sends confirmation_text from the number (allowed without consent, once per contact per "
                      "24 h, never to an opted-out contact). It keeps to the recipient's quiet hours: outside them "
                      "it is sent when they open (send_at says when; the reply window counts from then), or "
                      "refused with 453 QUIET_HOURS when the organization's quiet-hours action is reject. The contact's reply YES, Y or START before expires_at "
                      "grants consent (method double_opt_in), with the text sent and both message ids as evidence."),
    Route("POST", "/v1/consent", record_consent, "Record a consent you collected", "consent",
          body=RecordConsentBody, response=c.ConsentView, status=201, errors=_CONSENT_ERRORS,
          description="method: web_form, paper, verbal, keyword, import or other; evidence: the disclosure text "
                      "shown, source URL, IP, user agent, captured_at. A contact that opted out by text can only "
                      "opt back in itself (START)."),
    Route("GET", "/v1/consent", list_consent, "List contacts on the consent ledger", "consent",
          query=ConsentListQuery, response=list[c.ConsentView], paginated=True),
    Route("GET", "/v1/consent/export", export_consent, "Export the consent ledger (JSONL or CSV, streamed)",
          "consent", query=ExportQuery, response=c.LedgerRow, produces=("application/x-ndjson", "text/csv"),
          description="Every ledger entry of the organization in order (consents with their evidence, opt-outs, "
                      "opt-ins, double opt-ins, keyword replies), for an audit. format=jsonl (default) or csv; "
                      "since / until (RFC 3339) keep the entries that occurred in [since, until). Every field is "
                      "exported: the CSV's details column holds, as JSON, whatever an entry carries beyond the "
                      "named columns."),
    Route("GET", "/v1/consent/{contact_number}", get_consent, "A contact's consent state and full history",
          "consent", response=c.ConsentDetail),
    Route("DELETE", "/v1/consent/{contact_number}", revoke_consent, "Revoke a contact's consent (opt it out)",
          "consent", response=c.ConsentView,
          description="Appends an opt-out (source api), never deletes: queued messages to the contact are "
                      "canceled. Record consent again (POST /v1/consent) or have the contact text START to undo."),
    Route("POST", "/v1/compliance/check", check, "Would this send be allowed now? (dry run of the gate)",
          "compliance", body=CheckBody, response=SendDecision, errors=("FROM_NUMBER_NOT_FOUND",),
          description="The same decision POST /v1/messages would get, with every check's result (opt_out, "
                      "registration, consent, quiet_hours, frequency_cap), and what would make a denied send legal "
                      "(FREQUENCY_CAP names details.next_allowed_at). Not recorded, not counted."),
    Route("GET", "/v1/compliance/decisions", list_decisions, "Every decision of the gate, with every check",
          "compliance", query=DecisionsQuery, response=list[c.DecisionView], paginated=True,
          description="Newest first. Every decision the gate made on a send — when the API call arrived (stage "
                      "accept) and again right before the carrier (stage submit) — with its outcome (allow, deny, "
                      "defer), code, reason and every check with its result and reason. Filters: contact, outcome, "
                      "reason (a deny code such as CONSENT_REQUIRED, or QUIET_HOURS for a defer), message_id, "
                      "since / until (decided in [since, until)). Dry runs (POST /v1/compliance/check) are not "
                      "recorded."),
    Route("GET", "/v1/compliance/decisions/export", export_decisions,
          "Export gate decisions (JSONL or CSV, streamed)", "compliance", query=DecisionExportQuery,
          response=c.DecisionView, produces=("application/x-ndjson", "text/csv"),
          description="Every matching decision, oldest first, with every check: format=jsonl (default, one "
                      "DecisionView per line) or csv (check_results in words, checks as JSON). Filters as the "
                      "listing: contact, outcome, reason, since, until."),
    Route("GET", "/v1/compliance/settings", get_settings, "The organization's compliance settings", "compliance",
          response=c.ComplianceSettings),
    Route("PATCH", "/v1/compliance/settings", update_settings, "Change compliance settings", "compliance",
          body=SettingsPatch, response=c.ComplianceSettings,
          description="Quiet hours on/off and action (defer | reject), the conversation window (on/off, hours), "
                      "double opt-in expiry, custom HELP / opt-out / opt-in replies (null restores the default), "
                      "frequency_caps per category ([{category, max, window_hours}], besides the FL/MD/OK state caps "
                      "of 3 marketing messages per 24 h) and frequency_cap_action (reject | defer)."),
]
