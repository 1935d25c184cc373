"""Events of the numbers domain (stream AM_NUMBERS, subjects am.numbers.<aggregate>.<event>.<org_id>).

Aggregates: ``number_order`` (stream ``number_order-<order id>``), ``phone_number`` (stream
``phone_number-<id>``), ``brand`` (``brand-<id>``) and ``campaign`` (``campaign-<id>``). Webhook secrets never ride on events: they stay in the numbers schema, written in the
same transaction as the event that creates or rotates them.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from proto.base import Event, Time


class _Numbers(Event, frozen=True, kw_only=True):
    DOMAIN: ClassVar[str] = "numbers"


class _NumberOrder(_Numbers, frozen=True, kw_only=True):
    AGGREGATE: ClassVar[str] = "number_order"
    order_id: str


class _PhoneNumber(_Numbers, frozen=True, kw_only=True):
    AGGREGATE: ClassVar[str] = "phone_number"
    phone_number_id: str
    e164: str


class _Brand(_Numbers, frozen=True, kw_only=True):
    AGGREGATE: ClassVar[str] = "brand"
    brand_id: str


class _Campaign(_Numbers, frozen=True, kw_only=True):
    AGGREGATE: ClassVar[str] = "campaign"
    campaign_id: str


class RejectionReason(msgspec.Struct, frozen=True, kw_only=True):
    """One reason a carrier gave for rejecting a campaign."""

    code: str
    description: str = ""


# -- number orders ---------------------------------------------------------------------------------
class NumberOrderPlaced(_NumberOrder, frozen=True, kw_only=True):
    """An order of numbers was placed: each of them claimed for it (none of them another's), their first
    month's price to be held from the organization's credit. Emitted by numbers."""

    numbers: list[str]
    amount_micros: int


class NumberOrderCompleted(_NumberOrder, frozen=True, kw_only=True):
    """The carrier assigned an order's numbers and each became the organization's (``PhoneNumberOrdered``,
    in the same write); its credit is to be captured. Emitted by numbers."""


class NumberOrderFailed(_NumberOrder, frozen=True, kw_only=True):
    """An order was undone: nothing was ordered, its claims dropped, its numbers given back to the carrier,
    its credit to be refunded. Emitted by numbers."""

    reason: str = ""
    """Why: ``credit`` (not held), ``carrier`` (refused or failing), ``abandoned`` (taken for dead)."""


class NumberOrderSettled(_NumberOrder, frozen=True, kw_only=True):
    """An order's credit was settled: captured (completed) or refunded (failed). The order takes no more
    events. Emitted by numbers."""

    captured: bool


# -- phone numbers ---------------------------------------------------------------------------------
class PhoneNumberOrdered(_PhoneNumber, frozen=True, kw_only=True):
    """A number became the organization's (assigned by the carrier, paid for); it receives texts at once.
    Emitted by numbers."""

    order_id: str
    monthly_price_micros: int
    capabilities: list[str] = msgspec.field(default_factory=list)


class PhoneNumberConfigured(_PhoneNumber, frozen=True, kw_only=True):
    """A number's settings changed; ``changed`` names the fields, the others carry the new values.
    Emitted by numbers."""

    changed: list[str]
    friendly_name: str | None = None
    inbound_url: str | None = None
    status_callback_url: str | None = None


class WebhookSecretRotated(_PhoneNumber, frozen=True, kw_only=True):
    """A number got a (new) webhook secret; the previous one, if any, stays valid until ``grace_until``.
    The secret itself is never in the event. Emitted by numbers."""

    first: bool = False
    """True when this is the number's first secret (set with its first inbound_url)."""
    grace_until: Time | None = None


class PhoneNumberReleased(_PhoneNumber, frozen=True, kw_only=True):
    """A number went back to the carrier; it is no longer the organization's. Emitted by numbers."""

    reason: str = "released by the organization"


# -- 10DLC brands ----------------------------------------------------------------------------------
class BrandRegistered(_Brand, frozen=True, kw_only=True):
    """A 10DLC brand was registered and identity-checked by the registry. Emitted by numbers."""

    entity_type: str
    display_name: str
    identity_status: str
    vetting_score: int
    carrier_ref: str = ""


# -- 10DLC campaigns -------------------------------------------------------------------------------
class CampaignSubmitted(_Campaign, frozen=True, kw_only=True):
    """A campaign was submitted for carrier review (status pending_review). Emitted by numbers; compliance
    learns the campaign's own opt-out and help keywords and replies from it."""

    brand_id: str
    use_case: str
    carrier_ref: str = ""
    opt_out_keywords: list[str] = msgspec.field(default_factory=list)
    """The campaign's opt-out keywords, upper case (texted to one of its numbers: an opt-out)."""
    opt_out_message: str = ""
    """The confirmation sent for one of the campaign's own opt-out keywords."""
    help_keywords: list[str] = msgspec.field(default_factory=list)
    help_message: str = ""
    opt_in_keywords: list[str] = msgspec.field(default_factory=list)
    """The campaign's own opt-in keywords, upper case (e.g. JOIN: texted to one of its numbers, an opt-in)."""
    opt_in_message: str = ""
    """The reply to one of the campaign's own opt-in keywords (empty: the usual opt-in reply)."""


class CampaignApproved(_Campaign, frozen=True, kw_only=True):
    """A campaign cleared carrier review: its numbers may send, within these limits. Emitted by numbers."""

    brand_id: str
    throughput_mpm: int
    daily_cap: int


class CampaignRejected(_Campaign, frozen=True, kw_only=True):
    """Carrier review rejected a campaign; it can be edited and resubmitted. Emitted by numbers."""

    brand_id: str
    rejection_reasons: list[RejectionReason] = msgspec.field(default_factory=list)


class CampaignResubmitted(_Campaign, frozen=True, kw_only=True):
    """A rejected campaign, edited (``changed`` names the fields), went back to review. Emitted by numbers."""

    brand_id: str
    changed: list[str] = msgspec.field(default_factory=list)
    opt_out_keywords: list[str] = msgspec.field(default_factory=list)
    """The campaign's keywords and replies after the edit (as in ``CampaignSubmitted``)."""
    opt_out_message: str = ""
    help_keywords: list[str] = msgspec.field(default_factory=list)
    help_message: str = ""
    opt_in_keywords: list[str] = msgspec.field(default_factory=list)
    opt_in_message: str = ""


class CampaignNumberAssigned(_Campaign, frozen=True, kw_only=True):
    """A number joined a campaign (it sends once the campaign is approved). Emitted by numbers."""

    phone_number_id: str
    e164: str


class CampaignNumberRemoved(_Campaign, frozen=True, kw_only=True):
    """A number left a campaign (removed, or released). Emitted by numbers."""

    phone_number_id: str
    e164: str
    reason: str = "removed by the organization"
