"""API bodies: signup, API keys, balance."""

from __future__ import annotations

from typing import Annotated

import msgspec

from proto.api import Email, Limit


class SignupBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
    organization_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Acme Agents"])]


class CreateKeyBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, examples=["ci"])] = "default"


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
