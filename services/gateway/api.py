"""The route table's types, request decoding and the response envelope."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web
from nats.aio.client import Client

from libs.bus.rpc import RpcClient
from libs.phone import normalize_e164
from proto.base import CommandError
from proto.subjects import Subjects

_encoder = msgspec.json.Encoder()

EVICT_KEY: web.AppKey[Callable[[str], None]] = web.AppKey("evict_key")
"""Drops a revoked key from this replica's auth cache at once (other replicas hear ApiKeyRevoked)."""


@dataclass
class Reply:
    data: Any
    status: int = 200
    meta: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    session_cookie: str | None = None
    """A session token to set as the HttpOnly session cookie (a log-in)."""
    clear_session_cookie: bool = False


@dataclass
class Ctx:
    request: web.Request
    rpc: RpcClient
    org_id: str
    key_id: str
    body: Any
    query: Any
    path: dict[str, str]
    env: str
    nc: Client
    subjects: Subjects
    user_id: str = ""
    """The dashboard user, when the request came with a session (empty with an API key)."""
    session_id: str = ""

    def phone(self, value: str, field_name: str) -> str:
        try:
            return normalize_e164(value)
        except ValueError as exc:
            raise CommandError("VALIDATION_ERROR", f"{field_name}: {exc}", 400, {"field": field_name}) from exc

    async def call(self, domain: str, command: str, payload: Any, result_type: Any = Any,
                   timeout: float | None = None) -> Any:
        return await self.rpc.call(domain, command, payload, result_type, timeout)


Handler = Callable[[Ctx], Awaitable[Reply | Any]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type | None = None
    query: type | None = None
    response: Any = None
    """The type of ``data`` (a Struct, or list[Struct] for a page)."""
    status: int = 200
    auth: bool = True
    paginated: bool = False
    errors: tuple[str, ...] = ()
    """Error codes this route can answer with, beyond the common ones (for the docs)."""
    description: str = ""
    produces: tuple[str, ...] = ("application/json",)
    """Media types of the success response (a streamed export is not JSON)."""


def envelope(data: Any, meta: dict[str, Any] | None = None) -> bytes:
    out: dict[str, Any] = {"success": True, "data": data}
    if meta is not None:
        out["meta"] = meta
    return _encoder.encode(out)


def error_response(code: str, message: str, status: int, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body = _encoder.encode({"success": False, "error": {"code": code, "message": message,
                                                         "details": details or {}}})
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


_PATH_RE = re.compile(r"`\$\.?([^`]*)`")


def validation_error(exc: msgspec.ValidationError | msgspec.DecodeError, where: str = "body") -> CommandError:
    msg = str(exc)
    m = _PATH_RE.search(msg)
    path = m.group(1) if m else ""
    path = path.replace("[", ".").replace("]", "") if path else ""
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        return CommandError("VALIDATION_ERROR", f"{where}: malformed JSON ({msg})", 400, {"field": where})
    text = msg.split(" - at ")[0]
    if "Object missing required field" in text:
        missing = text.split("`")[1] if "`" in text else ""
        path = f"{path}.{missing}" if path else missing
        text = "is required"
    label = path or where
    return CommandError("VALIDATION_ERROR", f"{label}: {text}", 400, {"field": label})


def decode_body(raw: bytes, typ: type) -> Any:
    if not raw.strip():
        raw = b"{}"
    try:
        body: Any = msgspec.json.decode(raw, type=typ)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise validation_error(exc) from exc
    check_text(msgspec.to_builtins(body), "")
    return body


def check_text(value: Any, path: str) -> None:
    """JSON can carry what no database text column holds (NUL, lone surrogates): refuse it here, by field."""
    if isinstance(value, str):
        bad = "\x00" in value
        if not bad:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                bad = True
        if bad:
            field = path or "body"
            raise CommandError("VALIDATION_ERROR", f"{field}: must be valid Unicode text without NUL characters",
                               400, {"field": field})
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_text(v, f"{path}.{i}" if path else str(i))


def decode_query(query: Any, typ: type) -> Any:
    data: dict[str, Any] = {}
    check_text(dict(query), "")
    fields = set(typ.__struct_encode_fields__)  # type: ignore[attr-defined]  # wire names, e.g. "from"
    for k in query:
        if k in fields:
            vals = query.getall(k)
            data[k] = vals[-1]
    try:
        return msgspec.convert(data, typ, strict=False)
    except msgspec.ValidationError as exc:
        raise validation_error(exc, "query") from exc


def not_found(what: str) -> CommandError:
    return CommandError("NOT_FOUND", f"{what} not found", 404)
