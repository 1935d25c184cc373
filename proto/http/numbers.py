"""API bodies and views: phone-number search, orders, settings, webhook secrets."""

from __future__ import annotations

from typing import Annotated

import msgspec

from proto.api import E164, UUID, Limit

AreaCode = Annotated[str, msgspec.Meta(min_length=3, max_length=3, pattern=r"^[2-9](?:[02-9][0-9]|1[02-9])$",
                                       description="NANP area code: 3 digits, the first 2-9, not an N11 code",
                                       examples=["415"])]
Url = Annotated[str, msgspec.Meta(max_length=2048, examples=["https://example.com/sms"])]


class SearchNumbersBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    area_code: AreaCode
    quantity: Annotated[int, msgspec.Meta(ge=1, le=100, description="How many numbers to show, 1-100")] = 5
    contains: Annotated[str, msgspec.Meta(min_length=1, max_length=10, pattern=r"^[0-9]+$",
                                          description="Digits the number must contain")] | None = None
    region: Annotated[str, msgspec.Meta(min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$",
                                        description="US state code, e.g. CA")] | None = None


class AvailableNumberView(msgspec.Struct, kw_only=True):
    phone_number: E164
    region: str
    locality: str
    capabilities: list[str]
    monthly_price: str
    """Our monthly price for the number, in USD (debited from credit when ordered)."""


class OrderNumbersBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    numbers: Annotated[list[E164], msgspec.Meta(min_length=1, max_length=10,
                                                description="Numbers from a search, E.164; all or nothing")]


class NumberView(msgspec.Struct, kw_only=True):
    id: UUID
    """The phone_number_id later calls take."""
    phone_number: E164
    friendly_name: str | None
    status: str
    """active (released numbers are no longer visible)."""
    inbound_url: str | None
    webhook_secret: str | None
    """Signs X-AmCore-Signature on pushes to inbound_url; created with the first inbound_url."""
    status_callback_url: str | None
    capabilities: list[str]
    monthly_price: str
    campaign_id: str | None
    sending_enabled: bool
    """True once the number is on an approved 10DLC campaign."""
    created_at: str
    region: str = ""
    locality: str = ""
    previous_webhook_secret_expires_at: str | None = None
    """During a rotation's grace period the previous secret still signs, until this time."""


class OrderView(msgspec.Struct, kw_only=True):
    id: UUID
    """The order's id."""
    status: str
    """completed: every number is yours (orders are all or nothing)."""
    phone_numbers: list[NumberView]
    total_monthly_price: str
    created_at: str


class PatchNumberBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields left out keep their value; null clears inbound_url / status_callback_url / friendly_name."""

    inbound_url: Url | msgspec.UnsetType | None = msgspec.UNSET
    friendly_name: Annotated[str, msgspec.Meta(max_length=64)] | msgspec.UnsetType | None = msgspec.UNSET
    status_callback_url: Url | msgspec.UnsetType | None = msgspec.UNSET


class NumbersQuery(msgspec.Struct, kw_only=True):
    limit: Limit = 20
    cursor: str | None = None
