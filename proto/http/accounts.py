"""API bodies: signup, API keys, balance."""

from __future__ import annotations

from typing import Annotated

import msgspec

from proto.api import Email, Limit
from proto.scopes import Preset, Scope


class SignupBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
    organization_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Acme Agents"])]


PhonePrefix = Annotated[str, msgspec.Meta(pattern=r"^\+\d{1,15}$", examples=["+1415"],
                                         description="an E.164 number, or its first digits with the +")]


class KeyCapsBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Limits checked at the gateway before any side effect (each optional)."""

    spend_per_day: Annotated[str, msgspec.Meta(pattern=r"^\d{1,9}(\.\d{1,4})?$", examples=["1.00"],
                                               description="USD this key may spend on sends per UTC day")] | None = None
    sends_per_minute: Annotated[int, msgspec.Meta(ge=1, le=1_000_000,
                                                  description="Sends per UTC clock minute")] | None = None
    sends_per_day: Annotated[int, msgspec.Meta(ge=1, le=100_000_000, description="Sends per UTC day")] | None = None
    allowed_recipients: Annotated[list[PhonePrefix], msgspec.Meta(
        max_length=1000, description="E.164 numbers or prefixes (+1415) this key may text",
        examples=[["+15551234567", "+1415"]])] | None = None
    allowed_from: Annotated[list[PhonePrefix], msgspec.Meta(
        max_length=1000, description="E.164 numbers or prefixes this key may send from")] | None = None
    expires_at: Annotated[str, msgspec.Meta(description="RFC 3339; the key answers 401 after it",
                                            examples=["2030-01-01T00:00:00Z"])] | None = None


class CreateKeyBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, examples=["ci"])] = "default"
    scopes: Annotated[list[Scope], msgspec.Meta(
        description="What the key may do; omitted (and no preset) means every scope",
        examples=[["messages:send", "messages:read"]])] | None = None
    preset: Annotated[Preset, msgspec.Meta(
        description="full | send-only (messages:send, messages:read, numbers:read, compliance:read) | read-only "
                    "(messages:read, numbers:read, compliance:read, billing:read); combined with scopes")] | None = None
    caps: KeyCapsBody | None = None


class PageQuery(msgspec.Struct, kw_only=True):
    limit: Limit = 20
    cursor: str | None = None


class LoginBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254, examples=["dev@example.com"])]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256, examples=["a-long-password"])]


class SessionCreated(msgspec.Struct, kw_only=True):
    """A dashboard session. The token itself is only in the HttpOnly ``am_session`` cookie; send
    ``csrf_token`` as ``X-CSRF-Token`` on every /v1 request made with that cookie."""

    id: str
    user_id: str
    org_id: str
    email: str
    organization_name: str
    created_at: str
    expires_at: str
    csrf_token: str


class SessionsEnded(msgspec.Struct, kw_only=True):
    ended: int
    """How many sessions were ended."""


class SessionListed(msgspec.Struct, kw_only=True):
    id: str
    user_id: str
    org_id: str
    email: str
    organization_name: str
    created_at: str
    expires_at: str
    ended_at: str | None = None
    user_agent: str = ""
    current: bool = False
    """True for the session this request was made with."""
