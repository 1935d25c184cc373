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
