"""Recorded consent and its revocation through the API: appended to the contact's ledger (load →
decide → append + project, in one transaction), never a delete."""

from __future__ import annotations

import structlog

from proto.base import CommandError, Event, chosen_id, new_id, parse_time, rfc3339
from proto.commands import compliance as c
from proto.events.compliance import (
    ConsentEvidence,
    ConsentGranted,
    ConsentRevoked,
    DoubleOptInExpired,
    OptOutRecorded,
)
from services.compliance import model, store
from services.compliance.handlers import Compliance
from services.compliance.rules import e164

log = structlog.get_logger(__name__)

CONSENT_METHODS = frozenset({"web_form", "paper", "verbal", "keyword", "import", "other"})


async def record_consent(h: Compliance, cmd: c.RecordConsent) -> str:
    contact = e164(cmd.contact_number, "contact_number")
    if cmd.method not in CONSENT_METHODS:
        raise CommandError("VALIDATION_ERROR", f"method: must be one of {', '.join(sorted(CONSENT_METHODS))}",
                           400, {"field": "method"})
    e = cmd.evidence
    if not e.disclosure_text.strip():
        raise CommandError("VALIDATION_ERROR", "evidence.disclosure_text: the consent language shown is required",
                           400, {"field": "evidence.disclosure_text"})
    now = h.now()
    captured = rfc3339(parse_time(e.captured_at, "evidence.captured_at")) if e.captured_at else rfc3339(now)
    evidence = ConsentEvidence(disclosure_text=e.disclosure_text, source_url=e.source_url, ip=e.ip,
                               user_agent=e.user_agent, captured_at=captured)
    consent_id = chosen_id(cmd.consent_id, "consent_id") if cmd.consent_id is not None else None

    async def record() -> None:
        async with h.store.transaction() as conn:
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
            await store.append_contact(h.store, conn, cmd.org_id, contact, s, model.fold(s, [ev]), [ev])

    await h.retry(record)
    log.info("consent_recorded", org_id=cmd.org_id, method=cmd.method)
    return contact

async def revoke_consent(h: Compliance, cmd: c.RevokeConsent) -> str:
    """An appended opt-out (source api), never a delete; outbound cancels what is queued."""
    contact = e164(cmd.contact_number, "contact_number")
    now = h.now()

    async def record() -> None:
        async with h.store.transaction() as conn:
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
            await store.append_contact(h.store, conn, cmd.org_id, contact, s, model.fold(s, events), events)

    await h.retry(record)
    log.info("consent_revoked", org_id=cmd.org_id)
    return contact
