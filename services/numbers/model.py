"""Pure aggregates of numbers: PhoneNumber, Brand and Campaign, each as ``evolve`` (the state after an
event) and ``decide_*`` (the events a command leads to, or the refusal with its reason returned as a
``CommandError``, never raised). No I/O: ids, new secrets and ``now`` arrive as arguments. The checks
on what arrives (fields, keywords, limits) are in ``rules.py``.

Secrets and a brand's registration details never ride on events: the handler writes them beside the
event that creates them, in its transaction (``store.Sealed``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from proto.base import CommandError, Event, NotFound
from proto.events.numbers import (
    BrandRegistered,
    CampaignApproved,
    CampaignNumberAssigned,
    CampaignNumberRemoved,
    CampaignRejected,
    CampaignResubmitted,
    CampaignSubmitted,
    PhoneNumberConfigured,
    PhoneNumberOrdered,
    PhoneNumberReleased,
    RejectionReason,
    WebhookSecretRotated,
)
from services.numbers import rules

Decided = list[Event] | CommandError
"""What a ``decide_*`` answers: the events to append (none: nothing to change), or why not."""


# -- PhoneNumber ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NumberState:
    id: str
    org_id: str
    e164: str
    status: Literal["pending", "active", "released"] = "active"
    """pending: claimed by an order not yet complete (no event yet)."""
    version: int = 0
    friendly_name: str | None = None
    inbound_url: str | None = None
    status_callback_url: str | None = None
    has_secret: bool = False
    campaign_id: str | None = None
    last_rotation_id: str | None = None


_SETTINGS = ("friendly_name", "inbound_url", "status_callback_url")


def evolve_number(s: NumberState, ev: Event) -> NumberState:
    match ev:
        case PhoneNumberOrdered():
            return replace(s, status="active")
        case PhoneNumberConfigured():
            return replace(s, friendly_name=ev.friendly_name, inbound_url=ev.inbound_url,
                           status_callback_url=ev.status_callback_url)
        case WebhookSecretRotated():
            return replace(s, has_secret=True)
        case PhoneNumberReleased():
            return replace(s, status="released", campaign_id=None, has_secret=False)
        case CampaignNumberAssigned():
            return replace(s, campaign_id=ev.campaign_id)
        case CampaignNumberRemoved():
            return replace(s, campaign_id=None)
    return s


def decide_ordered(s: NumberState, order_id: str, monthly_price_micros: int, now: datetime) -> Decided:
    """A claimed number the carrier assigned and the organization paid for becomes its own."""
    if s.status != "pending":
        return CommandError("CONFLICT", f"number {s.e164} is {s.status}, not claimed by an order", 409)
    return [PhoneNumberOrdered(org_id=s.org_id, phone_number_id=s.id, e164=s.e164, order_id=order_id,
                               monthly_price_micros=monthly_price_micros, capabilities=["sms", "mms"],
                               occurred_at=now)]


def _active(s: NumberState) -> CommandError | None:
    return None if s.status == "active" else NotFound("phone number", {"phone_number_id": s.id})


def decide_configure(s: NumberState, wanted: dict[str, str | None], now: datetime) -> Decided:
    """``wanted``: the settings given (checked), by name. Only what differs is an event; the first
    inbound_url gives the number its first webhook secret."""
    if (gone := _active(s)) is not None:
        return gone
    changed = {k: v for k, v in wanted.items() if getattr(s, k) != v}
    out: list[Event] = []
    if changed:
        new = {k: changed.get(k, getattr(s, k)) for k in _SETTINGS}
        out.append(PhoneNumberConfigured(org_id=s.org_id, phone_number_id=s.id, e164=s.e164, changed=sorted(changed),
                                         occurred_at=now, **new))
    if changed.get("inbound_url") and not s.has_secret:
        out.append(WebhookSecretRotated(org_id=s.org_id, phone_number_id=s.id, e164=s.e164, first=True,
                                        occurred_at=now))
    return out


def decide_rotate_secret(s: NumberState, rotation_id: str | None, grace_s: int, now: datetime) -> Decided:
    """A new secret; the previous one keeps signing for ``grace_s``. A repeat of the last rotation (same
    caller-chosen id) changes nothing."""
    if (gone := _active(s)) is not None:
        return gone
    if rotation_id is not None and rotation_id == s.last_rotation_id:
        return []
    first = not s.has_secret
    return [WebhookSecretRotated(org_id=s.org_id, phone_number_id=s.id, e164=s.e164, first=first,
                                 grace_until=None if first else now + timedelta(seconds=grace_s), occurred_at=now)]


def decide_release(s: NumberState, now: datetime) -> Decided:
    """Back to the carrier; its campaign loses it too (``decide_remove_number`` on the campaign)."""
    if (gone := _active(s)) is not None:
        return gone
    return [PhoneNumberReleased(org_id=s.org_id, phone_number_id=s.id, e164=s.e164, occurred_at=now)]


# -- Brand ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BrandState:
    id: str
    org_id: str
    entity_type: str
    display_name: str
    email: str
    identity_status: str
    vetting_score: int
    carrier_ref: str
    version: int = 1


@dataclass(frozen=True)
class Registry:
    """What the registry answered for a brand: verified or not, and how it vetted it."""

    identity_status: str
    vetting_score: int
    carrier_ref: str


def decide_register_brand(existing: BrandState | None, org_id: str, brand_id: str, entity_type: str,
                          display_name: str, registry: Registry, now: datetime) -> Decided:
    """Registered, verified or not (UNVERIFIED: its campaigns are refused). A repeat (same caller-chosen
    id) changes nothing; another organization's id conflicts."""
    if existing is not None:
        return check_repeat(existing, org_id) or []
    return [BrandRegistered(org_id=org_id, brand_id=brand_id, entity_type=entity_type,
                            display_name=display_name.strip(), identity_status=registry.identity_status,
                            vetting_score=registry.vetting_score, carrier_ref=registry.carrier_ref, occurred_at=now)]


def check_repeat(existing: BrandState, org_id: str) -> CommandError | None:
    """A registration under a caller-chosen id that is taken: a repeat by the same organization (None),
    else a conflict."""
    return None if existing.org_id == org_id else CommandError("CONFLICT", "brand_id: already used", 409)


def evolve_brand(s: BrandState | None, ev: Event, email: str = "") -> BrandState | None:
    match ev:
        case BrandRegistered():
            return BrandState(id=ev.brand_id, org_id=ev.org_id, entity_type=ev.entity_type,
                              display_name=ev.display_name, email=email, identity_status=ev.identity_status,
                              vetting_score=ev.vetting_score, carrier_ref=ev.carrier_ref)
    return s


def check_brand_usable(b: BrandState) -> CommandError | None:
    if b.identity_status == "UNVERIFIED":
        return CommandError("BRAND_UNVERIFIED", "the brand failed identity verification (check its EIN and legal "
                            "name, then register it again)", 409, {"brand_id": b.id})
    return None


# -- Campaign -------------------------------------------------------------------------------------------
CampaignStatus = Literal["submitting", "pending_review", "approved", "rejected"]


@dataclass(frozen=True)
class CampaignState:
    id: str
    org_id: str
    brand: BrandState
    status: CampaignStatus
    use_case: str
    fields: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    carrier_ref: str | None = None
    submitted_at: datetime | None = None
    status_callback_url: str | None = None
    last_submission_id: str | None = None
    numbers: int = 0
    """How many numbers are on it."""
    rejection_reasons: tuple[tuple[str, str], ...] = ()


def evolve_campaign(s: CampaignState, ev: Event) -> CampaignState:
    match ev:
        case CampaignSubmitted():
            return replace(s, status="pending_review", carrier_ref=ev.carrier_ref, submitted_at=ev.occurred_at)
        case CampaignApproved():
            return replace(s, status="approved", rejection_reasons=())
        case CampaignRejected():
            return replace(s, status="rejected",
                           rejection_reasons=tuple((r.code, r.description) for r in ev.rejection_reasons))
        case CampaignResubmitted():
            return replace(s, status="pending_review", submitted_at=ev.occurred_at, rejection_reasons=())
        case CampaignNumberAssigned():
            return replace(s, numbers=s.numbers + 1)
        case CampaignNumberRemoved():
            return replace(s, numbers=max(0, s.numbers - 1))
    return s


def decide_submitted(s: CampaignState, carrier_ref: str, now: datetime) -> Decided:
    """The carrier took the campaign for review: it is pending review, with its own keywords and replies."""
    if (bad := check_brand_usable(s.brand)) is not None:
        return bad
    if s.status != "submitting":
        return CommandError("CONFLICT", f"the campaign is already {s.status}", 409)
    return [CampaignSubmitted(org_id=s.org_id, campaign_id=s.id, brand_id=s.brand.id, use_case=s.use_case,
                              carrier_ref=carrier_ref, occurred_at=now, **rules.keyword_fields(s.fields))]


def decide_review(s: CampaignState, review: rules.Review, now: datetime) -> Decided:
    """The carrier's verdict, applied once: none for a campaign not pending review, or for a verdict on an
    earlier submission (a late retry)."""
    if s.status != "pending_review" or rules.is_stale(review, s.submitted_at):
        return []
    if review.approved:
        score = s.brand.vetting_score
        return [CampaignApproved(org_id=s.org_id, campaign_id=s.id, brand_id=s.brand.id, occurred_at=now,
                                 throughput_mpm=rules.throughput_mpm(score, s.use_case), daily_cap=rules.daily_cap(score))]
    return [CampaignRejected(org_id=s.org_id, campaign_id=s.id, brand_id=s.brand.id, occurred_at=now,
                             rejection_reasons=[RejectionReason(**r) for r in review.reasons])]


@dataclass(frozen=True)
class Resubmission:
    """A rejected campaign's edits, applied (``rules.apply_edits``): what it will say."""

    fields: dict[str, Any]
    changed: list[str]
    use_case: str
    status_callback_url: str | None
    submission_id: str | None


def edit(s: CampaignState, fields: dict[str, Any], changed: list[str], use_case: str | None, url: str | None,
         submission_id: str | None) -> Resubmission:
    use = use_case or s.use_case
    extra = (["use_case"] if use != s.use_case else []) + (
        ["status_callback_url"] if url and url != s.status_callback_url else [])
    return Resubmission(fields=fields, changed=sorted(changed + extra), use_case=use, status_callback_url=url,
                        submission_id=submission_id)


def decide_resubmit(s: CampaignState, r: Resubmission, now: datetime) -> Decided:
    """Only a rejected campaign goes back to review; a repeat of the last resubmission (same caller-chosen
    id) changes nothing."""
    if r.submission_id is not None and r.submission_id == s.last_submission_id:
        return []
    if s.status != "rejected":
        return CommandError("CONFLICT", f"only a rejected campaign can be resubmitted (this one is {s.status})", 409,
                            {"status": s.status})
    return [CampaignResubmitted(org_id=s.org_id, campaign_id=s.id, brand_id=s.brand.id, changed=r.changed,
                                occurred_at=now, **rules.keyword_fields(r.fields))]


@dataclass(frozen=True)
class NumberRef:
    id: str
    e164: str
    campaign_id: str | None = None


def check_free(numbers: list[NumberRef], campaign_id: str | None) -> CommandError | None:
    """A number can be on one campaign only."""
    busy = {n.id: n.campaign_id for n in numbers if n.campaign_id not in (None, campaign_id)}
    if busy:
        return CommandError("NUMBER_ON_OTHER_CAMPAIGN", "a number can be on one campaign only; remove it from its "
                            "campaign first (DELETE /v1/campaigns/{id}/phone-numbers/{phone_number_id})", 409,
                            {"campaigns": busy})
    return None


def room(s: CampaignState) -> int | None:
    """How many more numbers the campaign may take (None: no limit)."""
    return max(0, 1 - s.numbers) if s.brand.entity_type == "SOLE_PROPRIETOR" else None


def decide_assign(s: CampaignState, numbers: list[NumberRef], now: datetime, *, limit: bool = True) -> Decided:
    """Numbers join the campaign: each on no other campaign; a sole proprietor's campaign holds one
    (``limit``). The ones already on it change nothing."""
    if (busy := check_free(numbers, s.id)) is not None:
        return busy
    new = [n for n in numbers if n.campaign_id is None]
    if limit and (left := room(s)) is not None and len(new) > left:
        return CommandError("SOLE_PROPRIETOR_LIMIT", "a sole proprietor campaign may have only one number", 409,
                            {"max_numbers": 1})
    return [CampaignNumberAssigned(org_id=s.org_id, campaign_id=s.id, phone_number_id=n.id, e164=n.e164,
                                   occurred_at=now) for n in new]


def decide_remove_number(s: CampaignState, number: NumberRef | None, phone_number_id: str, now: datetime,
                         reason: str = "removed by the organization") -> Decided:
    if number is None or number.campaign_id != s.id:
        return NotFound("phone number on this campaign", {"phone_number_id": phone_number_id})
    return [CampaignNumberRemoved(org_id=s.org_id, campaign_id=s.id, phone_number_id=number.id, e164=number.e164,
                                  reason=reason, occurred_at=now)]
