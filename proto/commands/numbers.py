"""Commands of the numbers domain (am.cmd.numbers.<command>) that other services rely on.

The numbers service may add more commands below (search, order, configure, brands, campaigns...)."""

from __future__ import annotations

from typing import Any

import msgspec

from proto.base import Command
from proto.http.numbers import AvailableNumberView, NumberView, OrderView, PatchNumberBody
from proto.http.tendlc import BrandBody, BrandView, CampaignBody, CampaignView, ResubmitBody


class ResolveInbound(Command["InboundRoute"], frozen=True, kw_only=True):
    """Who owns this number, and where do its inbound messages go? (used by inbound)"""

    e164: str


class InboundRoute(msgspec.Struct, kw_only=True):
    org_id: str
    phone_number_id: str
    e164: str
    inbound_url: str | None = None
    webhook_secrets: list[str] = msgspec.field(default_factory=list)
    """Active secrets, newest first (two during a rotation's grace period)."""


class SenderStatus(Command["SenderInfo"], frozen=True, kw_only=True):
    """May this organization send from this number? (used by compliance and outbound)"""

    org_id: str
    e164: str


class SenderInfo(msgspec.Struct, kw_only=True):
    phone_number_id: str
    e164: str
    sending_enabled: bool
    reason_code: str | None = None
    """NO_BRAND | NO_CAMPAIGN | CAMPAIGN_PENDING | CAMPAIGN_REJECTED when sending is not enabled."""
    reason: str = ""
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    campaign_id: str | None = None
    brand_id: str | None = None
    brand_name: str = ""
    help_message: str | None = None
    opt_out_message: str | None = None
    throughput_mpm: int = 75
    """Carrier messages per minute allowed for the campaign (AT&T class by vetting score)."""
    daily_cap: int = 2000
    """Brand daily cap (T-Mobile tier by vetting score)."""
    status_callback_url: str | None = None
    """The number's default status callback URL, if set."""
    webhook_secrets: list[str] = msgspec.field(default_factory=list)


class GetNumber(Command["NumberRef"], frozen=True, kw_only=True):
    org_id: str
    phone_number_id: str


class NumberRef(msgspec.Struct, kw_only=True):
    id: str
    e164: str
    org_id: str


# -- commands of the public API (the gateway calls these) ------------------------------------------
class SearchNumbers(Command["SearchResult"], frozen=True, kw_only=True):
    org_id: str
    area_code: str
    quantity: int = 5
    contains: str | None = None
    region: str | None = None


class SearchResult(msgspec.Struct, kw_only=True):
    data: list[AvailableNumberView]


class OrderNumbers(Command[OrderView], frozen=True, kw_only=True):
    """All or nothing: every number becomes the organization's, or none does."""

    org_id: str
    numbers: list[str]
    order_id: str | None = None
    """Caller-chosen order id (derived from an Idempotency-Key): repeated, it answers with the order it made
    (409 IDEMPOTENCY_IN_FLIGHT while that one is still being placed) and orders nothing more."""


class ListNumbers(Command["NumberPage"], frozen=True, kw_only=True):
    org_id: str
    limit: int = 20
    cursor: str | None = None


class NumberPage(msgspec.Struct, kw_only=True):
    data: list[NumberView]
    next_cursor: str | None = None


class ShowNumber(Command[NumberView], frozen=True, kw_only=True):
    org_id: str
    phone_number_id: str


class ConfigureNumber(Command[NumberView], frozen=True, kw_only=True):
    org_id: str
    phone_number_id: str
    patch: PatchNumberBody


class RotateWebhookSecret(Command[NumberView], frozen=True, kw_only=True):
    org_id: str
    phone_number_id: str
    rotation_id: str | None = None
    """Caller-chosen id of the rotation (derived from an Idempotency-Key): repeated, the secret is rotated
    once and the number answered as that rotation left it."""


class ReleaseNumber(Command[NumberView], frozen=True, kw_only=True):
    org_id: str
    phone_number_id: str


class RegisterBrand(Command[BrandView], frozen=True, kw_only=True):
    org_id: str
    brand: BrandBody
    brand_id: str | None = None
    """Caller-chosen brand id (derived from an Idempotency-Key): repeated, it answers with that brand."""


class ListBrands(Command["BrandPage"], frozen=True, kw_only=True):
    org_id: str
    limit: int = 20
    cursor: str | None = None


class BrandPage(msgspec.Struct, kw_only=True):
    data: list[BrandView]
    next_cursor: str | None = None


class ShowBrand(Command[BrandView], frozen=True, kw_only=True):
    org_id: str
    brand_id: str


class CreateCampaign(Command[CampaignView], frozen=True, kw_only=True):
    org_id: str
    campaign: CampaignBody
    campaign_id: str | None = None
    """Caller-chosen campaign id (derived from an Idempotency-Key): repeated, it answers with that campaign
    (409 IDEMPOTENCY_IN_FLIGHT while it is still being submitted)."""


class ListCampaigns(Command["CampaignPage"], frozen=True, kw_only=True):
    org_id: str
    limit: int = 20
    cursor: str | None = None


class CampaignPage(msgspec.Struct, kw_only=True):
    data: list[CampaignView]
    next_cursor: str | None = None


class ShowCampaign(Command[CampaignView], frozen=True, kw_only=True):
    org_id: str
    campaign_id: str


class ReasonIn(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    description: str = ""


class ReviewCampaign(Command["ReviewOutcome"], frozen=True, kw_only=True):
    """The operator records the carrier's verdict on a campaign (``amctl campaigns approve|reject``), for
    deployments without a carrier API that reviews campaigns (AM_NUMBERS_FILE). Applied like the carrier's
    review callback: once, only to a campaign pending review (else ``409 CONFLICT``)."""

    campaign_id: str
    approved: bool
    reasons: list[ReasonIn] = []


class ReviewOutcome(msgspec.Struct, kw_only=True):
    campaign_id: str
    org_id: str
    status: str
    """approved | rejected"""


class ResubmitCampaign(Command[CampaignView], frozen=True, kw_only=True):
    org_id: str
    campaign_id: str
    edits: ResubmitBody = msgspec.field(default_factory=ResubmitBody)
    submission_id: str | None = None
    """Caller-chosen id of the resubmission (derived from an Idempotency-Key): repeated, it answers with
    the campaign that submission left, not 409 and not a second submission."""


class AssignCampaignNumbers(Command[CampaignView], frozen=True, kw_only=True):
    org_id: str
    campaign_id: str
    phone_number_ids: list[str]


class RemoveCampaignNumber(Command[CampaignView], frozen=True, kw_only=True):
    org_id: str
    campaign_id: str
    phone_number_id: str
