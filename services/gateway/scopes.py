"""Scopes and allow-lists of API keys: what a key may do, checked at the edge before any side effect.

Every authenticated route declares the one scope it needs (``ROUTE_SCOPES``; a route missing from it
is refused to a scoped key, and a test fails). A key without scopes keeps full access. ``admit``
checks, in this order, with no I/O:

- ``expires_at`` → 401 UNAUTHORIZED (the gateway's auth cache may still hold the key);
- the route's scope → 403 SCOPE_REQUIRED (creating a key: no scope or cap the caller lacks);
- ``allowed_recipients`` / ``allowed_from`` → 403 RECIPIENT_NOT_ALLOWED.

Its ``Admission`` says whether the request is a send and what it costs, for the send caps counted in
``usage``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from libs.phone import normalize_e164
from libs.sms import count_segments
from proto.api import format_money, parse_money
from proto.base import CommandError, parse_time, rfc3339, utcnow
from proto.commands.accounts import KeyCaps, Principal
from proto.http.accounts import CreateKeyBody
from proto.scopes import PRESETS, SCOPES

ROUTE_SCOPES: dict[str, str] = {
    "POST /v1/api-keys": "keys:write",
    "GET /v1/api-keys": "keys:write",
    "DELETE /v1/api-keys/{id}": "keys:write",
    "GET /v1/balance": "billing:read",
    "GET /v1/sessions/current": "keys:write",
    "DELETE /v1/sessions/current": "keys:write",
    "GET /v1/sessions": "keys:write",
    "DELETE /v1/sessions/{id}": "keys:write",
    "DELETE /v1/sessions": "keys:write",
    "POST /v1/phone-numbers/search": "numbers:read",
    "POST /v1/phone-numbers/orders": "numbers:write",
    "GET /v1/phone-numbers": "numbers:read",
    "GET /v1/phone-numbers/{id}": "numbers:read",
    "PATCH /v1/phone-numbers/{id}": "numbers:write",
    "POST /v1/phone-numbers/{id}/webhook-secret/rotate": "numbers:write",
    "DELETE /v1/phone-numbers/{id}": "numbers:write",
    "GET /v1/inbound-messages": "messages:read",
    "GET /v1/inbound-messages/{id}": "messages:read",
    "GET /v1/inbound-messages/{id}/deliveries": "messages:read",
    "POST /v1/inbound-messages/{id}/redeliver": "numbers:write",
    "POST /v1/brands": "compliance:write",
    "GET /v1/brands": "compliance:read",
    "GET /v1/brands/{id}": "compliance:read",
    "POST /v1/campaigns": "compliance:write",
    "GET /v1/campaigns": "compliance:read",
    "GET /v1/campaigns/{id}": "compliance:read",
    "POST /v1/campaigns/{id}/resubmit": "compliance:write",
    "POST /v1/campaigns/{id}/phone-numbers": "numbers:write",
    "DELETE /v1/campaigns/{id}/phone-numbers/{phone_number_id}": "numbers:write",
    "POST /v1/consent/double-opt-in": "compliance:write",
    "POST /v1/consent": "compliance:write",
    "GET /v1/consent": "compliance:read",
    "GET /v1/consent/export": "compliance:read",
    "GET /v1/consent/{contact_number}": "compliance:read",
    "DELETE /v1/consent/{contact_number}": "compliance:write",
    "POST /v1/compliance/check": "compliance:read",
    "GET /v1/compliance/settings": "compliance:read",
    "PATCH /v1/compliance/settings": "compliance:write",
    "GET /v1/compliance/decisions": "compliance:read",
    "GET /v1/compliance/decisions/export": "compliance:read",
    "POST /v1/messages": "messages:send",
    "POST /v1/messages/{id}/cancel": "messages:send",
    "GET /v1/messages": "messages:read",
    "GET /v1/messages/callback-secret": "messages:read",
    "GET /v1/messages/{id}": "messages:read",
    "GET /v1/messages/{id}/status-callbacks": "messages:read",
    "GET /v1/conversations": "messages:read",
    "GET /v1/conversations/{id}": "messages:read",
    "GET /v1/conversations/{id}/messages": "messages:read",
}
"""The scope each authenticated route needs ("METHOD path" as in the route table)."""

SEND_ROUTE = "POST /v1/messages"
"""The route counted against the send caps."""

RECIPIENT_FIELDS: dict[str, tuple[str, str | None]] = {
    "POST /v1/messages": ("to", "from"),
    "POST /v1/consent/double-opt-in": ("contact_number", None),
}
"""Routes that text someone: (the recipient's body field, the sender's body field)."""


KEYS_ROUTE = "POST /v1/api-keys"
"""Creating a key: a limited key may not mint a less limited one."""


def _check_delegation(caller: Principal, raw: bytes, decoded: Any) -> None:
    """A key with scopes grants only scopes it has; a key with caps creates no keys (their caps, counted
    per key, would not bind it)."""
    if caller.caps is not None:
        raise CommandError("KEY_CAPPED", "a key with caps cannot create keys; use a key without caps", 403)
    if isinstance(decoded, CreateKeyBody):
        body = decoded
    else:
        try:
            body = msgspec.json.decode(raw or b"{}", type=CreateKeyBody)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
            return  # the route's own validation answers 400
    scopes, _ = key_grants(body)
    assert caller.scopes is not None
    wanted = SCOPES if scopes is None else scopes
    missing = [sc for sc in wanted if sc not in caller.scopes]
    if missing:
        raise CommandError("SCOPE_REQUIRED", f"this API key cannot grant the scope {missing[0]}, which it lacks",
                           403, {"scope": missing[0], "key_scopes": caller.scopes})


def route_scope(method: str, path: str) -> str | None:
    return ROUTE_SCOPES.get(f"{method} {path}")


# -- creating a key ---------------------------------------------------------------------------------

def key_grants(body: CreateKeyBody) -> tuple[list[str] | None, KeyCaps | None]:
    """A create-key body → (scopes, caps) for accounts: presets expanded, caps validated. None scopes:
    every scope (neither scopes nor a preset given)."""
    scopes: list[str] | None = None
    if body.scopes is not None or body.preset is not None:
        wanted = set(body.scopes or ()) | set(PRESETS[body.preset] if body.preset else ())
        if not wanted:
            raise CommandError("VALIDATION_ERROR", "scopes: give at least one scope (or leave it out for all)", 400,
                               {"field": "scopes"})
        scopes = [s for s in SCOPES if s in wanted]
    caps: KeyCaps | None = None
    if body.caps is not None:
        b = body.caps
        expires: str | None = None
        if b.expires_at is not None:
            when = parse_time(b.expires_at, "caps.expires_at")
            if when <= utcnow():  # its secret would be shown once and never work
                raise CommandError("VALIDATION_ERROR", "caps.expires_at: must be in the future", 400,
                                   {"field": "caps.expires_at"})
            expires = rfc3339(when)
        caps = KeyCaps(
            spend_per_day=format_money(parse_money(b.spend_per_day)) if b.spend_per_day is not None else None,
            sends_per_minute=b.sends_per_minute, sends_per_day=b.sends_per_day,
            allowed_recipients=_prefixes(b.allowed_recipients, "caps.allowed_recipients"),
            allowed_from=_prefixes(b.allowed_from, "caps.allowed_from"),
            expires_at=expires)
    return scopes, caps


def _prefixes(values: list[str] | None, field_name: str) -> list[str] | None:
    if values is None:
        return None
    if not values:
        raise CommandError("VALIDATION_ERROR", f"{field_name}: give at least one number or prefix", 400,
                           {"field": field_name})
    return sorted(set(values))


# -- checking a request -----------------------------------------------------------------------------

@dataclass
class Admission:
    """What the guard decided for one request: whether it is a counted send and what it costs."""

    key_id: str
    caps: KeyCaps | None
    send: bool = False
    cost_micros: int = 0
    counted: list[tuple[str, int]] = field(default_factory=list)
    """Counters incremented for this request (undone when it is not accepted)."""
    tallied: tuple[int, int, int] | None = None
    """The counters without a limit (all of an uncapped key's), tallied for usage (minute, day, spend;
    taken back when the request is not accepted)."""


def _matches(number: str, allowed: list[str]) -> bool:
    return any(number.startswith(p) for p in allowed)


_ATTRS: dict[type, dict[str, str]] = {}
"""A body Struct's JSON field names → its attribute names ("from" → "from_")."""


def _value(doc: Any, name: str) -> Any:
    """A body field by its JSON name, from the route's decoded body or a plain JSON document."""
    if isinstance(doc, dict):
        return doc.get(name)
    if isinstance(doc, msgspec.Struct):
        attrs = _ATTRS.get(type(doc))
        if attrs is None:
            attrs = _ATTRS[type(doc)] = {f.encode_name: f.name for f in msgspec.structs.fields(doc)}
        attr = attrs.get(name)
        return getattr(doc, attr) if attr is not None else None
    return None


def _field(doc: Any, name: str | None) -> str | None:
    if name is None:
        return None
    value = _value(doc, name)
    if not isinstance(value, str):
        return None
    try:
        return normalize_e164(value)
    except ValueError:
        return None  # the route's own validation answers 400


def admit(method: str, path: str, principal: Principal, raw: bytes, price_per_segment_micros: int,
          body: Any = None) -> Admission:
    """Scope, expiry and allow-lists: pure, no I/O. Raises the error to answer. ``body``: the route's body
    already decoded from ``raw`` (the send path decodes its JSON once); None when it did not decode, and
    the fields are then read from ``raw`` as plain JSON (the route's own validation answers 400)."""
    name = f"{method} {path}"
    caps = principal.caps
    if principal.expires_at is not None and principal.expires_at <= utcnow():
        raise CommandError("UNAUTHORIZED", "this API key has expired", 401, {"reason": "expired"})
    if principal.scopes is not None:
        needed = ROUTE_SCOPES.get(name)
        if needed is None or needed not in principal.scopes:
            scope = needed or "full access"
            raise CommandError("SCOPE_REQUIRED", f"this API key lacks the scope {scope}", 403,
                               {"scope": scope, "key_scopes": principal.scopes})
    if name == KEYS_ROUTE and (principal.scopes is not None or caps is not None):
        _check_delegation(principal, raw, body)
    adm = Admission(key_id=principal.key_id, caps=caps, send=name == SEND_ROUTE)
    fields = RECIPIENT_FIELDS.get(name)
    doc: Any = body
    if doc is None and fields is not None and (adm.send or (caps and (caps.allowed_recipients or caps.allowed_from))):
        try:
            doc = msgspec.json.decode(raw or b"{}")
        except (msgspec.DecodeError, ValueError):  # not JSON, not UTF-8: the route's validation answers 400
            doc = None
    if fields is not None and caps is not None:
        to, frm = _field(doc, fields[0]), _field(doc, fields[1])
        if caps.allowed_recipients is not None and to is not None and not _matches(to, caps.allowed_recipients):
            raise CommandError("RECIPIENT_NOT_ALLOWED", f"this API key may not text {to}", 403,
                               {"field": fields[0], "to": to, "allowed_recipients": caps.allowed_recipients})
        if caps.allowed_from is not None and frm is not None and not _matches(frm, caps.allowed_from):
            raise CommandError("RECIPIENT_NOT_ALLOWED", f"this API key may not send from {frm}", 403,
                               {"field": fields[1], "from": frm, "allowed_from": caps.allowed_from})
    text = _value(doc, "text") if adm.send else None
    if isinstance(text, str):
        adm.cost_micros = count_segments(text)[0] * price_per_segment_micros
    return adm
