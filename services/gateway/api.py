"""The route table's types, request decoding and the response envelope."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import msgspec
import nats.errors
from aiohttp import web
from nats.aio.client import Client

from libs.bus.rpc import RpcClient
from libs.phone import is_sender_id, normalize_e164, normalize_sender
from proto.base import Command, CommandError
from proto.subjects import Subjects
from services.gateway.validation import validation_error

_encoder = msgspec.json.Encoder()
R = TypeVar("R")

FAULTS: tuple[type[BaseException], ...] = (nats.errors.Error, OSError, asyncio.TimeoutError)
"""What a request meets when NATS is gone or slow: answered 503 SERVICE_UNAVAILABLE, never 500."""

CLOSE: web.RequestKey[bool] = web.RequestKey("close_after_answer", bool)
"""Set on a request whose body could not be read: answer it, then close the connection."""

EVICT_KEY: web.AppKey[Callable[[str], None]] = web.AppKey("evict_key")
"""Drops a revoked key from this replica's auth cache at once (other replicas hear ApiKeyRevoked)."""


class Paged(Protocol):
    """What a list command answers: one page of items and the cursor of the next (None: the last)."""

    @property
    def data(self) -> Sequence[Any]: ...

    @property
    def next_cursor(self) -> str | None: ...


@dataclass
class Reply:
    data: Any
    status: int = 200
    meta: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    session_cookie: str | None = None
    """A session token to set as the HttpOnly session cookie (a log-in)."""
    clear_session_cookie: bool = False

    @classmethod
    def page(cls, page: Paged, data: Any = None) -> Reply:
        """One page of a list: its items (or ``data`` made from them) and the cursor of the next page."""
        return cls(page.data if data is None else data, meta={"next_cursor": page.next_cursor})


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
    resource_id: str | None = None
    """With an Idempotency-Key: the id of what this POST creates, derived from organization, method, path
    and key, so that every retry names the same resource (None without a key: the service picks one)."""
    read_retry_budget_s: float = 0.0

    def phone(self, value: str, field_name: str) -> str:
        try:
            return normalize_e164(value)
        except ValueError as exc:
            raise CommandError("VALIDATION_ERROR", f"{field_name}: {exc}", 400, {"field": field_name}) from exc

    def sender(self, value: str, field_name: str) -> str:
        """A filter on who texted: an E.164 number, or a short code or alphanumeric sender id as stored."""
        if is_sender_id(value):
            return normalize_sender(value)
        return self.phone(value, field_name)

    async def call(self, command: Command[R], *, timeout: float | None = None) -> R:
        """A backing service's answer. A safe read (GET) that meets a fault is asked again, with backoff,
        within ``read_retry_budget_s``; anything else answers the fault (503) at once."""
        if self.request.method not in ("GET", "HEAD") or self.read_retry_budget_s <= 0:
            return await self.rpc.call(command, timeout=timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_retry_budget_s
        delay = 0.05
        while True:
            try:
                return await self.rpc.call(command, timeout=timeout)
            except CommandError as exc:
                if exc.status != 503 or loop.time() + delay > deadline:
                    raise
            except FAULTS:
                if loop.time() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.4)


Handler = Callable[[Ctx], Awaitable[Reply | Any]]

PageT = TypeVar("PageT", bound=Paged)


def listing(command: Callable[..., Command[PageT]]) -> Handler:
    """The handler of a plain list route (query: ``limit`` and ``cursor``): the organization's page."""

    async def handler(ctx: Ctx) -> Reply:
        page = await ctx.call(command(org_id=ctx.org_id, limit=ctx.query.limit, cursor=ctx.query.cursor))
        return Reply.page(page)

    return handler


def on_resource(command: Callable[..., Command[Any]], field: str, status: int = 200) -> Handler:
    """The handler of a route that answers ``command`` on the resource its path names: ``field`` takes the
    path's ``{id}``."""

    async def handler(ctx: Ctx) -> Reply:
        return Reply(await ctx.call(command(org_id=ctx.org_id, **{field: ctx.path["id"]})), status=status)

    return handler


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


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """A POST, PATCH or PUT's body, refused past ``max_bytes``, compressed, or not JSON (b"" otherwise)."""
    if request.method not in ("POST", "PATCH", "PUT"):
        return b""
    if request.content_length and request.content_length > max_bytes:
        raise CommandError("PAYLOAD_TOO_LARGE", f"request body over {max_bytes} bytes", 413)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        # aiohttp would inflate it, and a body that is not what the header says fails while it is read,
        # taking the answer down with the connection: refuse it unread, and close after answering
        request[CLOSE] = True
        raise CommandError("UNSUPPORTED_MEDIA_TYPE", "send the body uncompressed, without Content-Encoding",
                           415, {"field": "Content-Encoding"})
    try:
        raw = await request.content.read(max_bytes + 1)
    except Exception as exc:  # the connection broke mid-body, or the body is not what its headers say
        request[CLOSE] = True
        raise CommandError("VALIDATION_ERROR", f"body: could not be read ({exc.__class__.__name__})", 400,
                           {"field": "body"}) from exc
    if len(raw) > max_bytes:
        raise CommandError("PAYLOAD_TOO_LARGE", f"request body over {max_bytes} bytes", 413)
    if raw.strip() and request.content_type not in ("application/json", ""):
        raise CommandError("UNSUPPORTED_MEDIA_TYPE", "send JSON with Content-Type: application/json", 415)
    return raw


def decode_body(raw: bytes, typ: type) -> Any:
    if not raw.strip():
        raw = b"{}"
    try:
        body: Any = msgspec.json.decode(raw, type=typ)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise validation_error(exc, "body", typ) from exc
    except UnicodeDecodeError as exc:
        raise CommandError("VALIDATION_ERROR", "body: not valid UTF-8", 400,
                           {"field": "body"}) from exc
    # msgspec refuses raw control characters, invalid UTF-8 and lone surrogates: only a \u escape can
    # bring in a NUL, so a body without one is not walked again
    if b"\\u" in raw:
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


_ZONE_AS_SPACE = re.compile(r"(:[0-9]{2}(?:\.[0-9]+)?) ([0-9]{2}:[0-9]{2})$")


def unplussed(value: str) -> str:
    """A ``+`` left unencoded in a query string arrives as a space (``?to=+1415…``, ``…T12:00:00+02:00``):
    read it back as the ``+`` it was, where nothing else fits (a leading space before digits, a zone)."""
    if value[:1] == " " and value[1:2].isdigit():
        value = "+" + value[1:]
    return _ZONE_AS_SPACE.sub(r"\1+\2", value)


def decode_query(query: Any, typ: type) -> Any:
    data: dict[str, Any] = {}
    for k, v in query.items():  # every value of a repeated parameter, not only the one that is used
        check_text(k, "query")
        check_text(v, k)
    fields = set(typ.__struct_encode_fields__)  # type: ignore[attr-defined]  # wire names, e.g. "from"
    for k in query:
        if k not in fields:  # a typo'd filter (``state=failed``, ``since`` for ``created_after``) is refused,
            # not ignored: ignored, it would answer every row as if it were the filtered page
            raise CommandError("VALIDATION_ERROR", f"{k}: not a parameter of this request; it takes "
                               f"{', '.join(sorted(fields))}", 400, {"field": k})
        data[k] = unplussed(query.getall(k)[-1])
    try:
        return msgspec.convert(data, typ, strict=False)
    except msgspec.ValidationError as exc:
        raise validation_error(exc, "query", typ) from exc


def not_found(what: str) -> CommandError:
    return CommandError("NOT_FOUND", f"{what} not found", 404)
