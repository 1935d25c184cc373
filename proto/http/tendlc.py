"""API bodies and views: 10DLC brands and campaigns (The Campaign Registry's model, see DOMAIN.md)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from proto.api import E164, UUID, Email, Limit

EntityType = Literal["PRIVATE_PROFIT", "PUBLIC_PROFIT", "NON_PROFIT", "GOVERNMENT", "SOLE_PROPRIETOR"]
UseCase = Literal[
    "2FA", "ACCOUNT_NOTIFICATION", "CUSTOMER_CARE", "DELIVERY_NOTIFICATION", "FRAUD_ALERT",
    "HIGHER_EDUCATION", "LOW_VOLUME", "MARKETING", "MIXED", "POLLING_VOTING",
    "PUBLIC_SERVICE_ANNOUNCEMENT", "SECURITY_ALERT",
]
CampaignStatus = Literal["pending_review", "approved", "rejected"]

Text = Annotated[str, msgspec.Meta(max_length=2048)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Keywords = Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=30)]], msgspec.Meta(max_length=20)]
Samples = Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]],
                    msgspec.Meta(min_length=1, max_length=5, description="1-5 sample messages")]
Url = Annotated[str, msgspec.Meta(max_length=2048, examples=["https://example.com/10dlc"])]


class BrandBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    entity_type: EntityType
    display_name: ShortText
    company_name: ShortText | None = None
    """Legal name; required except for SOLE_PROPRIETOR."""
    ein: Annotated[str, msgspec.Meta(max_length=20, pattern=r"^$|^[0-9]{2}-?[0-9]{7}$",
                                     examples=["12-3456789"])] | None = None
    """US tax id (9 digits); required except for SOLE_PROPRIETOR."""
    email: Email
    phone: E164
    website: Url | None = None
    vertical: Annotated[str, msgspec.Meta(max_length=64, examples=["TECHNOLOGY"])] | None = None
    street: ShortText | None = None
    city: ShortText | None = None
    state: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    postal_code: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    country: Annotated[str, msgspec.Meta(min_length=2, max_length=2)] = "US"


class BrandView(msgspec.Struct, kw_only=True):
    id: UUID
    entity_type: str
    display_name: str
    company_name: str | None
    ein: str | None
    email: str
    phone: str
    website: str | None
    vertical: str | None
    street: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str
    identity_status: str
    """VERIFIED | UNVERIFIED | VETTED_VERIFIED | SELF_DECLARED, from the registry."""
    vetting_score: int
    throughput_mpm: int
    """AT&T messages per minute per campaign from the vetting score (LOW_VOLUME campaigns get 75)."""
    daily_cap: int
    """T-Mobile brand daily cap from the vetting score."""
    created_at: str


class CampaignFields(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a campaign says; every field is editable on resubmission."""

    sub_use_cases: list[UseCase] | None = None
    """2-5 use cases, for MIXED only."""
    description: Text | None = None
    message_flow: Text | None = None
    """How consent is collected (web form, keyword, paper...)."""
    sample_messages: Samples | None = None
    opt_in_keywords: Keywords | None = None
    opt_in_message: Text | None = None
    opt_out_keywords: Keywords | None = None
    opt_out_message: Text | None = None
    help_keywords: Keywords | None = None
    help_message: Text | None = None
    embedded_link: bool | None = None
    embedded_phone: bool | None = None
    age_gated: bool | None = None
    number_pool: bool | None = None
    status_callback_url: Url | None = None
    """Gets a signed POST (X-AmCore-Signature, keyed with the campaign's webhook_secret) per review outcome."""


class CampaignBody(CampaignFields, kw_only=True, forbid_unknown_fields=True):
    brand_id: UUID
    use_case: UseCase
    description: Text
    message_flow: Text
    sample_messages: Samples
    phone_number_ids: Annotated[list[UUID], msgspec.Meta(max_length=100)] | None = None
    """Numbers to put on the campaign; left out, your numbers that are on no other campaign join it."""


class ResubmitBody(CampaignFields, kw_only=True, forbid_unknown_fields=True):
    use_case: UseCase | None = None


class CampaignNumbersBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone_number_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=100)]


class RejectionReasonView(msgspec.Struct, kw_only=True):
    code: str
    description: str


class CampaignView(msgspec.Struct, kw_only=True):
    id: UUID
    brand_id: UUID
    status: str
    """pending_review → approved | rejected (then editable and resubmittable)."""
    use_case: str
    sub_use_cases: list[str]
    description: str
    message_flow: str
    sample_messages: list[str]
    opt_in_keywords: list[str]
    opt_in_message: str | None
    opt_out_keywords: list[str]
    opt_out_message: str
    help_keywords: list[str]
    help_message: str
    embedded_link: bool
    embedded_phone: bool
    age_gated: bool
    number_pool: bool
    status_callback_url: str | None
    webhook_secret: str | None
    """Per-campaign secret signing the status callbacks; created with the first status_callback_url."""
    rejection_reasons: list[RejectionReasonView]
    phone_number_ids: list[str]
    throughput_mpm: int
    daily_cap: int
    created_at: str
    submitted_at: str | None
    reviewed_at: str | None


class ListQuery(msgspec.Struct, kw_only=True):
    limit: Limit = 20
    cursor: str | None = None
