"""API shapes of conversations: the list query (the views are in proto/commands/inbound.py)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from proto.api import Limit


class ConversationListQuery(msgspec.Struct, kw_only=True):
    limit: Limit = 20
    cursor: str | None = None
    phone_number: Annotated[str, msgspec.Meta(description="Only conversations on this number of yours (E.164)")] \
        | None = None
    contact_number: Annotated[str, msgspec.Meta(description="Only conversations with this contact (E.164, or a short code or sender id as it texted you)")] \
        | None = None


class PageOnlyQuery(msgspec.Struct, kw_only=True):
    limit: Limit = 20
    cursor: str | None = None
