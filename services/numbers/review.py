"""Carrier review decisions coming in: the carrier's signed campaign-review callbacks (``POST
/carrier/campaigns`` on this service's own port) and the operator's record of a verdict (``amctl campaigns
approve|reject``), both applied through the Campaign aggregate (``model.decide_review``). An applied
verdict queues the campaign's status callback (sent by ``status_callbacks.py``) in the same transaction."""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from aiohttp import web

from libs.carrier.http_api import signed_callback
from libs.store.eventstore import EventStore
from proto.base import CommandError, NotFound, parse_uuid, rfc3339, utcnow
from proto.commands import numbers as c
from services.numbers import model, rules, store
from services.numbers.config import NumbersSettings

log = structlog.get_logger(__name__)
_enc = msgspec.json.Encoder()


class Review:
    def __init__(self, store_: EventStore):
        self.store = store_

    async def review_campaign(self, cmd: c.ReviewCampaign) -> c.ReviewOutcome:
        """The operator's record of the carrier's verdict, applied as the carrier's own callback is."""
        ident = parse_uuid(cmd.campaign_id)
        row = None if ident is None else await self.store.pool.fetchrow(
            "SELECT org_id::text AS org_id, carrier_ref, status FROM campaigns WHERE id = $1", ident)
        if row is None:
            raise NotFound("campaign", {"campaign_id": cmd.campaign_id})
        if row["status"] != "pending_review" or not row["carrier_ref"]:
            raise CommandError("CONFLICT", f"the campaign is {row['status']}, not pending review", 409,
                               {"status": row["status"]})
        if not cmd.approved and not cmd.reasons:
            raise rules.invalid("reasons", "a rejection needs at least one reason")
        outcome = await self.apply_review({
            "campaign_ref": row["carrier_ref"], "status": "approved" if cmd.approved else "rejected",
            "rejection_reasons": [{"code": r.code, "description": r.description} for r in cmd.reasons],
            "reviewed_at": rfc3339(utcnow())})
        if outcome != "applied":
            raise CommandError("CONFLICT", "the campaign is no longer pending review", 409)
        return c.ReviewOutcome(campaign_id=str(ident), org_id=row["org_id"],
                               status="approved" if cmd.approved else "rejected")

    async def apply_review(self, payload: Any) -> str:
        """Apply a review decision once: ``applied``, ``ignored`` (unknown, repeated or stale) or ``retry``
        (its campaign is still being submitted: the carrier should call again)."""
        review = rules.parse_review(payload)
        async with self.store.transaction() as conn:
            row = await conn.fetchrow(store.CAMPAIGN_SELECT + " WHERE c.carrier_ref = $1 FOR UPDATE OF c",
                                      review.campaign_ref)
            if row is None:
                inflight = await conn.fetchval("SELECT 1 FROM campaigns WHERE status = 'submitting'"
                                               " AND created_at > now() - interval '2 minutes' LIMIT 1")
                return "retry" if inflight else "ignored"
            camp = store.campaign_state(row)
            events = model.decide_review(camp, review, utcnow())
            if not isinstance(events, list) or not events:
                return "ignored"
            await store.record(self.store, conn, (camp.version, events), sealed=store.Sealed(reviewed_at=review.reviewed_at))
            ev = events[0]
            status = "approved" if review.approved else "rejected"
            if camp.status_callback_url:
                view = (await store.campaign_views(conn, [await store.campaign_row(conn, camp.org_id, camp.id)]))[0]
                view = msgspec.structs.replace(view, webhook_secret=None)  # the key that signs it never rides in it
                body = _enc.encode({"id": ev.event_id, "type": f"campaign.{status}",
                                    "occurred_at": rfc3339(ev.occurred_at), "data": view})
                await conn.execute(
                    "INSERT INTO campaign_callbacks (id, org_id, campaign_id, url, body, next_attempt_at)"
                    " VALUES ($1, $2, $3, $4, $5, now())", ev.event_id, camp.org_id, camp.id, camp.status_callback_url,
                    body)
        log.info("campaign_reviewed", org_id=camp.org_id, campaign_id=camp.id, status=status,
                 reasons=[r["code"] for r in review.reasons] if not review.approved else [])
        return "applied"


def carrier_route(settings: NumbersSettings, review: Review) -> web.RouteDef:
    async def campaigns(request: web.Request) -> web.Response:
        raw = await signed_callback(request, settings.sim_callback_secret)
        try:
            outcome = await review.apply_review(msgspec.json.decode(raw))
        except (msgspec.DecodeError, ValueError, TypeError) as exc:  # signed, but not the shape we know
            log.warning("carrier_callback_malformed", error=str(exc))
            return web.json_response({"error": "malformed callback"}, status=400)
        if outcome == "retry":
            return web.json_response({"status": "not ready, retry"}, status=503)
        return web.json_response({"status": outcome})

    return web.post("/carrier/campaigns", campaigns)
