"""The AgentMessage MCP server: tools designed for a model, over the public API.

Every tool calls the public API through the typed SDK (``agentmessage.AsyncClient``) with the caller's
API key, so the key's scopes and caps apply to tools exactly as to HTTP. An API error comes back as a
tool error (``isError``) whose text and structured content carry the API's code, message and details,
plus what to do about it. Conversations are also resources (``conversation://{id}``).

The same server runs over Streamable HTTP at the gateway's ``/mcp`` (the key is the bearer token of each
request) and over stdio (``amctl mcp``, the key from ``AGENTMESSAGE_API_KEY``).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypedDict, TypeVar

from agentmessage import ApiError, AsyncClient
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

ClientFactory = Callable[[Context[Any, Any]], AsyncClient]
"""Makes the API client for one tool call (from the request's bearer key, or the environment's)."""

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

INSTRUCTIONS = """AgentMessage sends and receives SMS for you through your organization's phone numbers.
Typical loop: list_numbers (pick a `from`), get_consent for the contact; if there is none, request_consent
(a double opt-in text; the contact replies YES) and wait_for_reply; then send_message. check_send tells
whether a send would pass compliance without sending. wait_for_reply / wait_for_code block up to 60 s for
the contact's next text or a one-time code. list_conversations / get_conversation show message history.
Every send passes compliance (consent, opt-outs, quiet hours); a refused send returns the verdict and
what to do. Errors carry the API's code (e.g. CONSENT_REQUIRED, SCOPE_REQUIRED, CAP_EXCEEDED)."""

ADVICE = {
    "CONSENT_REQUIRED": "The contact has not consented. Call request_consent (double opt-in), then wait_for_reply "
                        "for their YES, then send again.",
    "RECIPIENT_OPTED_OUT": "The contact opted out (STOP). Do not text them; only they can opt back in (START).",
    "QUIET_HOURS": "Outside the contact's allowed hours; try again later (the send can be scheduled with send_at).",
    "SENDING_NOT_ENABLED": "The from number has no approved 10DLC campaign; a human must register one.",
    "INSUFFICIENT_CREDIT": "The organization's credit is used up; a human must add credit.",
    "SCOPE_REQUIRED": "This API key is not allowed to do this (details.scope); use another tool or ask a human.",
    "RECIPIENT_NOT_ALLOWED": "This API key may not text this number (or send from that one).",
    "CAP_EXCEEDED": "This API key reached a cap (details.cap); wait until details.resets_at or ask a human.",
    "RATE_LIMITED": "Too many requests; wait a few seconds and retry.",
    "NOT_FOUND": "No such resource in this organization; check the id.",
    "VALIDATION_ERROR": "An argument is malformed (details.field); fix it and retry.",
    "FROM_NUMBER_NOT_FOUND": "The from number is not one of this organization's numbers; see list_numbers.",
    "UNAUTHORIZED": "The API key is missing, revoked or expired.",
}


def _error_result(exc: ApiError) -> CallToolResult:
    body = {"error": {**exc.to_dict(), "what_to_do": ADVICE.get(exc.code, "")}}
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(body))], structured_content=body,
                          is_error=True)


@contextlib.asynccontextmanager
async def _arguments(**names: str) -> AsyncIterator[None]:
    """An API error naming a request field (``from``, ``contact_number``) names the tool's argument instead
    (``from_number``, ``contact``): the model fixes what it passed, not an argument it did not."""
    try:
        yield
    except ApiError as exc:
        field = exc.details.get("field")
        if field not in names:
            raise
        arg = names[field]
        message = arg + exc.message[len(field):] if exc.message.startswith(f"{field}:") else exc.message
        raise ApiError(exc.status, exc.code, message, {**exc.details, "field": arg}, exc.retry_after,
                       exc.request_id) from None


def _api_errors(fn: F) -> F:
    """An ApiError becomes a tool error carrying the API's code (not an exception the model cannot read)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except ApiError as exc:
            return _error_result(exc)

    return wrapper  # type: ignore[return-value]


class SendResult(TypedDict):
    sent: bool
    """True when the API accepted the message (status queued or scheduled)."""
    message: dict[str, Any] | None
    """The message (id, status, segments, price, ...) when sent."""
    verdict: dict[str, Any] | None
    """When refused by compliance: decision, code, reason and each check's result."""
    what_to_do: str | None


class ReplyResult(TypedDict):
    received: bool
    """False when nothing arrived before the timeout."""
    message: dict[str, Any] | None
    """The inbound message: id, from, to, body, received_at, otp."""


class CodeResult(TypedDict):
    received: bool
    code: str | None
    """The one-time code found in the text."""
    message: dict[str, Any] | None


Phone = Annotated[str, Field(description="E.164 phone number, e.g. +15551234567")]
Timeout = Annotated[int, Field(ge=1, le=60, description="Seconds to wait (1-60)")]
_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def build_server(client_for: ClientFactory, name: str = "agentmessage") -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer(name=name, title="AgentMessage", instructions=INSTRUCTIONS,
                                       version="0.1.0", subscriptions=False, log_level="WARNING")
    _sending_tools(server, client_for)
    _waiting_tools(server, client_for)
    _reading_tools(server, client_for)
    _consent_tools(server, client_for)
    _resources(server, client_for)
    return server


def _sending_tools(server: MCPServer[Any], client_for: ClientFactory) -> None:
    """Sending: a text, or a dry run of the gate."""

    @server.tool(description="Send an SMS from one of your numbers. Use it once the contact has consented "
                             "(see get_consent); the send passes compliance first. Returns the queued message, or, "
                             "when compliance refuses, sent=false with the verdict and what to do (e.g. "
                             "request_consent for CONSENT_REQUIRED).",
                 annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=False, open_world_hint=True))
    @_api_errors
    async def send_message(
        ctx: Context[Any, Any],
        from_number: Annotated[str, Field(description="Your number to send from (E.164, see list_numbers)")],
        to: Phone,
        text: Annotated[str, Field(min_length=1, max_length=1600, description="The message text")],
        send_at: Annotated[str | None, Field(description="RFC 3339 time to send later (optional)")] = None,
    ) -> SendResult:
        async with client_for(ctx) as am:
            try:
                async with _arguments(**{"from": "from_number"}):
                    msg = await am.send_message(from_number, to, text, send_at=send_at)
            except ApiError as exc:
                if exc.status == 453 or exc.code == "SENDING_NOT_ENABLED":
                    verdict = (await am.check_send(from_number, to, text)).to_dict()
                    return SendResult(sent=False, message=None, verdict={**verdict, "code": exc.code},
                                      what_to_do=ADVICE.get(exc.code, verdict.get("reason")))
                raise
        return SendResult(sent=True, message=msg.to_dict(), verdict=None, what_to_do=None)

    @server.tool(description="Would this send be allowed right now? A dry run of the compliance gate (consent, "
                             "opt-out, quiet hours, registration) that sends nothing and costs nothing. Use it "
                             "before send_message when unsure.", annotations=_READ_ONLY)
    @_api_errors
    async def check_send(
        ctx: Context[Any, Any],
        from_number: Annotated[str, Field(description="Your number to send from (E.164)")],
        to: Phone,
        text: Annotated[str, Field(min_length=1, max_length=1600)],
    ) -> dict[str, Any]:
        async with client_for(ctx) as am, _arguments(**{"from": "from_number"}):
            return (await am.check_send(from_number, to, text)).to_dict()


def _waiting_tools(server: MCPServer[Any], client_for: ClientFactory) -> None:
    """Waiting for what a contact texts back: a reply, a one-time code."""

    @server.tool(description="Wait (up to 60 s) for a contact's reply: their next text after your last message to "
                             "them (a reply that already arrived is returned at once). Use it after request_consent "
                             "(the YES) or after send_message when you expect an answer. Returns received=false when "
                             "nothing came; call again (with after_message_id) to keep waiting.",
                 annotations=_READ_ONLY)
    @_api_errors
    async def wait_for_reply(
        ctx: Context[Any, Any],
        contact: Annotated[str, Field(description="The contact's number (E.164) whose reply you wait for")],
        to_number: Annotated[str | None, Field(description="Only replies to this number of yours")] = None,
        timeout_seconds: Timeout = 30,
        after_message_id: Annotated[str | None, Field(
            description="Only replies newer than this inbound message id (to not miss one between calls)")] = None,
    ) -> ReplyResult:
        async with client_for(ctx) as am:
            since = None
            if after_message_id is None:  # a reply is what came after our last message to them (not an auto-reply)
                async with _arguments(to="contact"):
                    sent = await am.list_messages(to=contact, limit=20)
                ours = [m for m in sent.data if m.kind in ("standard", "opt_in_request")]
                since = ours[0].created_at if ours else None
            async with _arguments(**{"from": "contact", "to": "to_number"}):
                got = await am.wait_for_reply(contact, to=to_number, timeout=timeout_seconds,
                                              after=after_message_id, since=since)
        return ReplyResult(received=got is not None, message=got.to_dict() if got else None)

    @server.tool(description="Wait (up to 60 s) for a one-time code (a verification / sign-in code) texted to one of "
                             "your numbers, optionally from a given sender. Use it right after starting a sign-in "
                             "that texts a code: a code that arrived in the last lookback_seconds (default 120) "
                             "counts, so one that came before this call is not missed. Returns the code and the "
                             "message, or received=false. To skip a code already used, pass its message id as "
                             "after_message_id.", annotations=_READ_ONLY)
    @_api_errors
    async def wait_for_code(
        ctx: Context[Any, Any],
        to_number: Annotated[str, Field(description="Your number the code is texted to (E.164)")],
        from_sender: Annotated[str | None, Field(description="Only codes from this sender")] = None,
        timeout_seconds: Timeout = 60,
        lookback_seconds: Annotated[int, Field(ge=0, le=3600, description="Codes received this long before the "
                                                                          "call count too (0: only new ones)")] = 120,
        after_message_id: Annotated[str | None, Field(description="Only codes newer than this inbound message")] = None,
    ) -> CodeResult:
        since = None
        if after_message_id is None and lookback_seconds > 0:
            since = (datetime.now(UTC) - timedelta(seconds=lookback_seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        async with client_for(ctx) as am, _arguments(**{"from": "from_sender", "to": "to_number"}):
            got = await am.wait_for_code(to_number, from_=from_sender, timeout=timeout_seconds,
                                         after=after_message_id, since=since)
        return CodeResult(received=got is not None, code=got.otp if got else None,
                          message=got.to_dict() if got else None)


def _reading_tools(server: MCPServer[Any], client_for: ClientFactory) -> None:
    """Reading: conversations, a message with its timeline, your numbers."""

    @server.tool(description="List conversations (one per your number x contact), most recent first, with the "
                             "last message, unread count and consent state. Use it to see who you talk to.",
                 annotations=_READ_ONLY)
    @_api_errors
    async def list_conversations(
        ctx: Context[Any, Any],
        contact: Annotated[str | None, Field(description="Only with this contact (E.164)")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of a previous call")] = None,
    ) -> dict[str, Any]:
        async with client_for(ctx) as am, _arguments(contact_number="contact"):
            page = await am.list_conversations(contact_number=contact, limit=limit, cursor=cursor)
        return {"conversations": [c.to_dict() for c in page.data], "next_cursor": page.next_cursor}

    @server.tool(description="A conversation and its recent messages in both directions, oldest first. Use it to "
                             "read what was said before answering.", annotations=_READ_ONLY)
    @_api_errors
    async def get_conversation(
        ctx: Context[Any, Any],
        conversation_id: Annotated[str, Field(description="From list_conversations")],
        limit: Annotated[int, Field(ge=1, le=100, description="How many recent messages")] = 20,
    ) -> dict[str, Any]:
        async with client_for(ctx) as am:
            conv = await am.get_conversation(conversation_id)
            page = await am.conversation_messages(conversation_id, limit=limit)
        return {"conversation": conv.to_dict(), "messages": [m.to_dict() for m in reversed(page.data)],
                "older_cursor": page.next_cursor}

    @server.tool(description="An outbound message with its status timeline (queued, sent, delivered...). Use it "
                             "to check whether a message was delivered.", annotations=_READ_ONLY)
    @_api_errors
    async def get_message(
        ctx: Context[Any, Any],
        message_id: Annotated[str, Field(description="The id send_message returned")],
    ) -> dict[str, Any]:
        async with client_for(ctx) as am:
            return (await am.get_message(message_id)).to_dict()

    @server.tool(description="Your organization's phone numbers (the `from` numbers you can use).",
                 annotations=_READ_ONLY)
    @_api_errors
    async def list_numbers(ctx: Context[Any, Any]) -> dict[str, Any]:
        async with client_for(ctx) as am:
            page = await am.list_numbers()
        return {"numbers": [n.to_dict() for n in page.data]}


def _consent_tools(server: MCPServer[Any], client_for: ClientFactory) -> None:
    """Consent: ask for it by double opt-in, and read it."""

    @server.tool(description="Ask a contact for consent by double opt-in: texts them your confirmation text from "
                             "one of your numbers; they are consented once they reply YES (use wait_for_reply, "
                             "then get_consent). Use it when a send is refused with CONSENT_REQUIRED.",
                 annotations=ToolAnnotations(destructive_hint=False, open_world_hint=True))
    @_api_errors
    async def request_consent(
        ctx: Context[Any, Any],
        contact: Phone,
        phone_number_id: Annotated[str, Field(description="The id (not the number) of your number, see "
                                                          "list_numbers")],
        confirmation_text: Annotated[str, Field(
            description="Must ask to reply YES and say how to opt out, e.g. 'Reply YES to get texts from Acme. "
                        "Reply STOP to opt out, HELP for help.'")],
    ) -> dict[str, Any]:
        async with client_for(ctx) as am, _arguments(contact_number="contact"):
            return (await am.request_consent(phone_number_id, contact, confirmation_text)).to_dict()

    @server.tool(description="A contact's consent state (none, granted, opted_out) with any pending double opt-in. "
                             "Use it before texting someone.", annotations=_READ_ONLY)
    @_api_errors
    async def get_consent(ctx: Context[Any, Any], contact: Phone) -> dict[str, Any]:
        async with client_for(ctx) as am, _arguments(contact_number="contact"):
            c = await am.get_consent(contact)
        out = c.to_dict()
        out.pop("history", None)
        return out


def _resources(server: MCPServer[Any], client_for: ClientFactory) -> None:
    """Resources: a conversation, the recent conversations."""

    @server.resource("conversation://{conversation_id}", name="conversation", mime_type="application/json",
                     description="A conversation with its last 50 messages, oldest first.")
    async def conversation_resource(conversation_id: str, ctx: Context[Any, Any]) -> str:
        async with client_for(ctx) as am:
            conv = await am.get_conversation(conversation_id)
            page = await am.conversation_messages(conversation_id, limit=50)
        return json.dumps({"conversation": conv.to_dict(), "messages": [m.to_dict() for m in reversed(page.data)]})

    @server.resource("conversations://recent{?limit}", name="recent-conversations", mime_type="application/json",
                     description="Your most recent conversations (limit: 1-100, default 50).")
    async def conversations_resource(ctx: Context[Any, Any], limit: str = "50") -> str:
        n = min(100, max(1, int(limit))) if limit.isdigit() else 50
        async with client_for(ctx) as am:
            page = await am.list_conversations(limit=n)
        return json.dumps([c.to_dict() for c in page.data])
