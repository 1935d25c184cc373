"""The AgentMessage API client: ``AsyncClient`` (asyncio) and ``Client`` (blocking), the same methods.

- Every answer is decoded into a typed model (``agentmessage.models``); an error answer raises
  ``ApiError`` with the API's code.
- 503 and 429 (but not ``CAP_EXCEEDED``, whose reset can be a day away) are retried with backoff,
  honouring ``Retry-After``; every POST carries an ``Idempotency-Key`` (generated unless given), so a
  retried send is never sent twice.
- ``iter_*`` walk every page; ``wait_for_*`` long-poll the API (no busy loop).
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx
import msgspec

from agentmessage.errors import ApiError
from agentmessage.models import (
    ApiKey,
    Balance,
    Consent,
    Conversation,
    ConversationMessage,
    DoubleOptIn,
    InboundMessage,
    Message,
    Page,
    PhoneNumber,
    SendDecision,
)

T = TypeVar("T")
P = ParamSpec("P")

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
_RETRY_STATUSES = frozenset({429, 503})
_MAX_WAIT_S = 60


class _Envelope(msgspec.Struct, kw_only=True):
    success: bool
    data: msgspec.Raw = msgspec.Raw(b"null")
    meta: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: ("true" if v is True else "false" if v is False else v) for k, v in params.items() if v is not None}


class AsyncClient:
    """``AsyncClient(api_key=None, base_url=None)``: the key defaults to ``AGENTMESSAGE_API_KEY`` and the
    URL to ``AM_API_URL`` (else http://127.0.0.1:8080)."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *, timeout: float = 75.0,
                 max_retries: int = 4, transport: httpx.AsyncBaseTransport | None = None):
        self.api_key = api_key if api_key is not None else os.environ.get("AGENTMESSAGE_API_KEY", "")
        url = (base_url or os.environ.get("AM_API_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.base_url = url[:-3] if url.endswith("/v1") else url
        self.max_retries = max_retries
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport,
                                       headers={"User-Agent": "agentmessage-python/0.1"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # -- transport ---------------------------------------------------------------------------------
    async def request(self, method: str, path: str, typ: type[T], *, params: dict[str, Any] | None = None,
                      json: Any = None, idempotency_key: str | None = None) -> tuple[T, dict[str, Any]]:
        """One API call: (decoded data, meta). Retries 503 and 429 (not CAP_EXCEEDED)."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or f"sdk-{uuid.uuid4()}"
        attempt = 0
        while True:
            try:
                resp = await self._http.request(method, path, params=_clean(params or {}), json=json, headers=headers)
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise ApiError(503, "SERVICE_UNAVAILABLE", f"cannot reach {self.base_url}: {exc!r}") from exc
                attempt += 1
                await asyncio.sleep(_backoff(attempt, None))
                continue
            try:
                env = msgspec.json.decode(resp.content, type=_Envelope)
            except (msgspec.DecodeError, msgspec.ValidationError):
                env = _Envelope(success=False, error={"code": "BAD_RESPONSE", "message": resp.text[:200]})
            if env.success and resp.status_code < 400:
                return msgspec.json.decode(env.data, type=typ), env.meta or {}
            err = env.error or {}
            code = str(err.get("code", "HTTP_ERROR"))
            retry_after = _retry_after(resp.headers.get("Retry-After"))
            if (resp.status_code in _RETRY_STATUSES and code != "CAP_EXCEEDED" and attempt < self.max_retries
                    and (retry_after is None or retry_after <= 30)):
                attempt += 1
                await asyncio.sleep(_backoff(attempt, retry_after))
                continue
            raise ApiError(resp.status_code, code, str(err.get("message", "")), err.get("details") or {}, retry_after,
                           resp.headers.get("X-Request-ID"))

    async def _page(self, path: str, typ: type[T], params: dict[str, Any]) -> Page[T]:
        data: list[T]
        data, meta = await self.request("GET", path, list[typ], params=params)  # type: ignore[valid-type]
        return Page(data=data, next_cursor=meta.get("next_cursor"))

    async def _iter(self, path: str, typ: type[T], params: dict[str, Any]) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            page = await self._page(path, typ, {**params, "cursor": cursor, "limit": 100})
            for item in page.data:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    # -- messages ----------------------------------------------------------------------------------
    async def send_message(self, from_: str, to: str, text: str, *, category: str | None = None,
                           send_at: str | None = None, message_id: str | None = None,
                           status_callback_url: str | None = None, idempotency_key: str | None = None) -> Message:
        body = _clean({"from": from_, "to": to, "text": text, "category": category, "send_at": send_at,
                       "message_id": message_id, "status_callback_url": status_callback_url})
        msg, _ = await self.request("POST", "/v1/messages", Message, json=body, idempotency_key=idempotency_key)
        return msg

    async def check_send(self, from_: str, to: str, text: str, *, category: str | None = None) -> SendDecision:
        body = _clean({"from": from_, "to": to, "text": text, "category": category})
        decision, _ = await self.request("POST", "/v1/compliance/check", SendDecision, json=body)
        return decision

    async def get_message(self, message_id: str) -> Message:
        msg, _ = await self.request("GET", f"/v1/messages/{message_id}", Message)
        return msg

    async def list_messages(self, *, limit: int = 20, cursor: str | None = None, status: str | None = None,
                            to: str | None = None) -> Page[Message]:
        return await self._page("/v1/messages", Message, {"limit": limit, "cursor": cursor, "status": status,
                                                          "to": to})

    def iter_messages(self, /, **filters: Any) -> AsyncIterator[Message]:
        return self._iter("/v1/messages", Message, filters)

    async def wait_for_status(self, message_id: str, statuses: tuple[str, ...] = (
            "delivered", "undelivered", "failed", "canceled"), timeout: float = 60.0) -> Message:
        """Poll a message until its status is one of ``statuses`` (or the timeout: the last seen)."""
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            msg = await self.get_message(message_id)
            if msg.status in statuses or time.monotonic() >= deadline:
                return msg
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, 2.0)

    # -- inbound -----------------------------------------------------------------------------------
    async def list_inbound(self, *, limit: int = 20, cursor: str | None = None, to: str | None = None,
                           from_: str | None = None, since: str | None = None, after: str | None = None,
                           wait: int = 0, otp: bool | None = None) -> Page[InboundMessage]:
        return await self._page("/v1/inbound-messages", InboundMessage, {
            "limit": limit, "cursor": cursor, "to": to, "from": from_, "since": since, "after": after,
            "wait": wait or None, "otp": otp})

    def iter_inbound(self, /, **filters: Any) -> AsyncIterator[InboundMessage]:
        return self._iter("/v1/inbound-messages", InboundMessage, filters)

    async def get_inbound(self, message_id: str) -> InboundMessage:
        msg, _ = await self.request("GET", f"/v1/inbound-messages/{message_id}", InboundMessage)
        return msg

    async def _wait_inbound(self, timeout: float, after: str | None, since: str | None,
                            **filters: Any) -> InboundMessage | None:
        deadline = time.monotonic() + max(0.0, timeout)
        if after is None and since is None:
            # "from now on", across several long polls: start after the newest match there is now
            # (with no match yet, any match at all is new)
            head = await self.list_inbound(limit=1, **filters)
            after = head.data[0].id if head.data else None
            since = None if head.data else "1970-01-01T00:00:00Z"
        while True:
            left = int(min(_MAX_WAIT_S, max(1.0, deadline - time.monotonic())))
            page = await self.list_inbound(limit=1, wait=left, after=after, since=since, **filters)
            if page.data:
                return page.data[0]
            if time.monotonic() >= deadline - 0.5:
                return None

    async def wait_for_reply(self, contact: str, *, to: str | None = None, timeout: float = 60.0,
                             after: str | None = None, since: str | None = None) -> InboundMessage | None:
        """The next message from ``contact`` (to ``to``, one of your numbers, if given) arriving from now on
        (or newer than ``after``, or at/after ``since``), or None when ``timeout`` seconds pass."""
        return await self._wait_inbound(timeout, from_=contact, to=to, after=after, since=since)

    async def wait_for_code(self, to: str, *, from_: str | None = None, timeout: float = 60.0,
                            after: str | None = None, since: str | None = None) -> InboundMessage | None:
        """The next inbound message carrying a one-time code (``.otp``) to your number ``to``, optionally
        from ``from_``; None when ``timeout`` seconds pass."""
        return await self._wait_inbound(timeout, to=to, from_=from_, after=after, since=since, otp=True)

    # -- numbers, consent, conversations, keys, balance --------------------------------------------
    async def list_numbers(self, *, limit: int = 100, cursor: str | None = None) -> Page[PhoneNumber]:
        return await self._page("/v1/phone-numbers", PhoneNumber, {"limit": limit, "cursor": cursor})

    def iter_numbers(self) -> AsyncIterator[PhoneNumber]:
        return self._iter("/v1/phone-numbers", PhoneNumber, {})

    async def request_consent(self, phone_number_id: str, contact_number: str, confirmation_text: str) -> DoubleOptIn:
        res, _ = await self.request("POST", "/v1/consent/double-opt-in", DoubleOptIn, json={
            "phone_number_id": phone_number_id, "contact_number": contact_number,
            "confirmation_text": confirmation_text})
        return res

    async def get_consent(self, contact_number: str) -> Consent:
        res, _ = await self.request("GET", f"/v1/consent/{contact_number}", Consent)
        return res

    async def list_conversations(self, *, limit: int = 20, cursor: str | None = None,
                                 phone_number: str | None = None,
                                 contact_number: str | None = None) -> Page[Conversation]:
        return await self._page("/v1/conversations", Conversation, {
            "limit": limit, "cursor": cursor, "phone_number": phone_number, "contact_number": contact_number})

    def iter_conversations(self, /, **filters: Any) -> AsyncIterator[Conversation]:
        return self._iter("/v1/conversations", Conversation, filters)

    async def get_conversation(self, conversation_id: str) -> Conversation:
        res, _ = await self.request("GET", f"/v1/conversations/{conversation_id}", Conversation)
        return res

    async def conversation_messages(self, conversation_id: str, *, limit: int = 20,
                                    cursor: str | None = None) -> Page[ConversationMessage]:
        return await self._page(f"/v1/conversations/{conversation_id}/messages", ConversationMessage,
                                {"limit": limit, "cursor": cursor})

    def iter_conversation_messages(self, conversation_id: str) -> AsyncIterator[ConversationMessage]:
        return self._iter(f"/v1/conversations/{conversation_id}/messages", ConversationMessage, {})

    async def create_key(self, name: str, *, scopes: list[str] | None = None, preset: str | None = None,
                         caps: dict[str, Any] | None = None) -> ApiKey:
        res, _ = await self.request("POST", "/v1/api-keys", ApiKey, json=_clean(
            {"name": name, "scopes": scopes, "preset": preset, "caps": caps}))
        return res

    async def list_keys(self, *, limit: int = 100, cursor: str | None = None) -> Page[ApiKey]:
        return await self._page("/v1/api-keys", ApiKey, {"limit": limit, "cursor": cursor})

    async def balance(self) -> Balance:
        res, _ = await self.request("GET", "/v1/balance", Balance, params={"limit": 1})
        return res


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    base: float = min(8.0, 0.25 * 2.0 ** (attempt - 1))
    return base * (0.5 + random.random() / 2)


def _blocking(method: Callable[Concatenate[AsyncClient, P], Awaitable[T]]) -> Callable[Concatenate[Client, P], T]:
    """A ``Client`` method: the ``AsyncClient`` one, with its signature, run to its end on the client's loop."""

    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(method(self._async, *args, **kwargs))

    call.__doc__ = method.__doc__
    return call


def _walking(method: Callable[Concatenate[AsyncClient, P], AsyncIterator[T]],
             ) -> Callable[Concatenate[Client, P], Iterator[T]]:
    """A ``Client`` ``iter_*`` method: the ``AsyncClient`` one, each item fetched on the client's loop."""

    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        return self._iter(method(self._async, *args, **kwargs))

    call.__doc__ = method.__doc__
    return call


class Client:
    """The blocking client: every ``AsyncClient`` method, run on a private event loop thread."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, **kw: Any):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="agentmessage-client", daemon=True)
        self._thread.start()
        self._async: AsyncClient = self._run(_make(api_key, base_url, kw))

    def _run(self, coro: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
        async def wrap() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrap(), self._loop).result()

    def close(self) -> None:
        self._run(self._async.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _iter(self, it: AsyncIterator[T]) -> Iterator[T]:
        while True:
            try:
                yield self._run(it.__anext__())
            except StopAsyncIteration:
                return

    send_message = _blocking(AsyncClient.send_message)
    check_send = _blocking(AsyncClient.check_send)
    get_message = _blocking(AsyncClient.get_message)
    list_messages = _blocking(AsyncClient.list_messages)
    iter_messages = _walking(AsyncClient.iter_messages)
    wait_for_status = _blocking(AsyncClient.wait_for_status)
    list_inbound = _blocking(AsyncClient.list_inbound)
    iter_inbound = _walking(AsyncClient.iter_inbound)
    get_inbound = _blocking(AsyncClient.get_inbound)
    wait_for_reply = _blocking(AsyncClient.wait_for_reply)
    wait_for_code = _blocking(AsyncClient.wait_for_code)
    list_numbers = _blocking(AsyncClient.list_numbers)
    iter_numbers = _walking(AsyncClient.iter_numbers)
    request_consent = _blocking(AsyncClient.request_consent)
    get_consent = _blocking(AsyncClient.get_consent)
    list_conversations = _blocking(AsyncClient.list_conversations)
    iter_conversations = _walking(AsyncClient.iter_conversations)
    get_conversation = _blocking(AsyncClient.get_conversation)
    conversation_messages = _blocking(AsyncClient.conversation_messages)
    create_key = _blocking(AsyncClient.create_key)
    list_keys = _blocking(AsyncClient.list_keys)
    balance = _blocking(AsyncClient.balance)


async def _make(api_key: str | None, base_url: str | None, kw: dict[str, Any]) -> AsyncClient:
    return AsyncClient(api_key, base_url, **kw)
