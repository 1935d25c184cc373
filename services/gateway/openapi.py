"""The OpenAPI 3.1 document, generated from the route table and its msgspec Structs, with examples
synthesised from the schemas (the Structs' own ``examples`` first). The reference page at /docs is
rendered from it by ``services.gateway.reference``."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from proto.api import E164_PATTERN, ErrorEnvelope
from services.gateway.api import Route
from services.gateway.scopes import RECIPIENT_FIELDS, SEND_ROUTE, route_scope

COMMON_ERRORS: dict[str, tuple[int, str]] = {
    "VALIDATION_ERROR": (400, "A field is missing or malformed; details.field names it."),
    "FROM_NUMBER_NOT_FOUND": (400, "The from number is not one of your organization's numbers."),
    "UNAUTHORIZED": (401, "Missing, malformed, unknown or revoked API key (or an ended session)."),
    "INVALID_CREDENTIALS": (401, "Log-in refused: wrong email or password."),
    "INSUFFICIENT_CREDIT": (402, "Not enough prepaid credit for the request."),
    "SCOPE_REQUIRED": (403, "The API key lacks the scope this route needs; details.scope names it."),
    "RECIPIENT_NOT_ALLOWED": (403, "The API key's allowed_recipients (or allowed_from) does not cover this number."),
    "KEY_CAPPED": (403, "A key with caps cannot create keys."),
    "CSRF_FAILED": (403, "A request made with the session cookie lacks its X-CSRF-Token, or comes from another "
                         "origin."),
    "SENDING_NOT_ENABLED": (403, "The sending number has no approved 10DLC campaign; details say what is missing."),
    "NOT_FOUND": (404, "No such resource in your organization."),
    "METHOD_NOT_ALLOWED": (405, "The path exists, the method does not."),
    "CONFLICT": (409, "The resource's state does not allow this."),
    "EMAIL_TAKEN": (409, "An account already uses this email."),
    "NUMBER_UNAVAILABLE": (409, "A number in the order is no longer available; details.unavailable lists them."),
    "BRAND_UNVERIFIED": (409, "The brand failed identity verification; campaigns need a verified brand."),
    "NUMBER_ON_OTHER_CAMPAIGN": (409, "The number is already on another campaign; remove it there first."),
    "SOLE_PROPRIETOR_LIMIT": (409, "A sole proprietor brand may have one campaign and one number."),
    "MESSAGE_ID_TAKEN": (409, "This message_id is already used by another organization."),
    "MESSAGE_NOT_CANCELABLE": (409, "The message is sending or later; only scheduled or queued messages can be "
                                    "canceled."),
    "NO_INBOUND_URL": (409, "The number has no inbound_url to deliver to."),
    "IDEMPOTENCY_IN_FLIGHT": (409, "A request with this Idempotency-Key is still being processed; retry after "
                                   "Retry-After (a request holds its key for a short lease, 30 s by default)."),
    "PAYLOAD_TOO_LARGE": (413, "The request body is over the limit."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Send JSON with Content-Type: application/json."),
    "IDEMPOTENCY_KEY_REUSED": (422, "The Idempotency-Key was used with another body."),
    "RATE_LIMITED": (429, "Too many requests; see Retry-After."),
    "CAP_EXCEEDED": (429, "The API key reached a cap; details.cap names it, details.resets_at (and Retry-After) "
                          "say when it resets."),
    "DOUBLE_OPT_IN_RATE_LIMITED": (429, "A double opt-in went to this contact less than 24 h ago."),
    "CONSENT_REQUIRED": (453, "No consent on file for the recipient; start a double opt-in."),
    "RECIPIENT_OPTED_OUT": (453, "The recipient opted out; they must text START to opt back in."),
    "QUIET_HOURS": (453, "Outside the recipient's allowed hours and the policy is reject."),
    "FREQUENCY_CAP": (453, "Over a frequency cap for the contact (state law or the organization's setting); "
                           "details.next_allowed_at says when the next one is allowed."),
    "INTERNAL": (500, "An unexpected error; it has been logged."),
    "CARRIER_ERROR": (502, "The carrier refused the request in an unexpected way."),
    "SERVICE_UNAVAILABLE": (503, "A fault: NATS, PostgreSQL or a service is down, slow or out of connections. "
                                 "Retry after Retry-After, with the same Idempotency-Key."),
    "SERVICE_TIMEOUT": (503, "A backing service answered too slowly; retry after Retry-After with the same "
                             "Idempotency-Key (the retry finds what the first attempt did)."),
    "CARRIER_UNAVAILABLE": (503, "The carrier did not answer; retry."),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def build_document(routes: list[Route], server_url: str = "") -> dict[str, Any]:
    types: list[Any] = [ErrorEnvelope]
    for r in routes:
        for t in (r.body, r.query, r.response):
            if t is not None:
                types.append(t)
    schemas, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    by_type = dict(zip(types, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r, by_type, components)
    paths["/mcp"] = _mcp_path()
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "AgentMessage API",
            "version": "1.0.0",
            "description": "SMS for software agents. Every /v1 request but signup and log-in takes the API key as a "
                           "bearer token (the dashboard uses its session cookie with an X-CSRF-Token header "
                           "instead). Responses use the envelope {success, data, meta} / {success:false, error}.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "am_live_...",
                           "description": "An API key, created under Settings → API keys (or POST /v1/api-keys)."},
                "session": {"type": "apiKey", "in": "cookie", "name": "am_session",
                            "description": "The dashboard's session (POST /v1/sessions); only together with csrf."},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                         "description": "The session's csrf_token, on every request authenticated by the cookie."},
            },
        },
        "x-error-codes": {k: {"status": v[0], "description": v[1]} for k, v in COMMON_ERRORS.items()},
    }
    doc["servers"] = [{"url": server_url or "http://127.0.0.1:8080", "description": "This server"}]
    return doc


def _operation(r: Route, by_type: dict[Any, Any], components: dict[str, Any]) -> dict[str, Any]:
    """One route's operation: parameters, body, the success envelope and every error it can answer."""
    op: dict[str, Any] = {
        "summary": r.summary,
        "tags": [r.tag],
        "operationId": f"{r.method.lower()}_{r.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
    }
    if r.description:
        op["description"] = r.description
    params = _parameters(r, by_type, components)
    if params:
        op["parameters"] = params
    if r.body is not None:
        # a body is required when it has a required field; else an empty body means "{}"
        bname = by_type[r.body].get("$ref", "").rsplit("/", 1)[-1]
        op["requestBody"] = {"required": bool(components.get(bname, {}).get("required")),
                             "content": {"application/json": {
                                 "schema": by_type[r.body], "example": example(by_type[r.body], components)}}}
    responses: dict[str, Any] = {str(r.status): {"description": "Success", "content": _success(r, by_type, components)}}
    scope = route_scope(r.method, r.path) if r.auth else None
    if r.auth:
        op["x-required-scope"] = scope
        op["description"] = f"{op.get('description', '')}\n\nScope: {scope}.".strip()
    _errors(r, responses)
    for entry in responses.values():
        entry.setdefault("headers", {})["X-Request-ID"] = {
            "description": "This request's id (its trace id): quote it when asking about the request",
            "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
    op["responses"] = responses
    if r.auth:
        op["security"] = [{"bearer": [scope] if scope else []}, {"session": [], "csrf": []}]
    else:
        op["security"] = []
    return op


def _parameters(r: Route, by_type: dict[Any, Any], components: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for seg in r.path.split("/"):
        if seg.startswith("{"):
            schema: dict[str, Any] = {"type": "string"}
            if seg == "{contact_number}":  # parsed as a phone number, like every body's E.164 field
                schema["pattern"] = E164_PATTERN
            params.append({"name": seg[1:-1], "in": "path", "required": True, "schema": schema})
    if r.query is not None:
        qschema = by_type[r.query]
        qname = qschema.get("$ref", "").rsplit("/", 1)[-1]
        props = components.get(qname, {}).get("properties", {})
        required = set(components.get(qname, {}).get("required", []))
        for name, schema in props.items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": schema})
    if r.method == "POST":  # PATCH and DELETE are idempotent by themselves
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "schema": {"type": "string", "pattern": "^[A-Za-z0-9_:-]{1,255}$"}})
    return params


def _success(r: Route, by_type: dict[Any, Any], components: dict[str, Any]) -> dict[str, Any]:
    data_schema: dict[str, Any] = by_type[r.response] if r.response is not None else {}
    ok: dict[str, Any] = {
        "type": "object",
        "properties": {"success": {"const": True}, "data": data_schema},
        "required": ["success", "data"],
    }
    if r.paginated:
        ok["properties"]["meta"] = {"type": "object", "properties": {
            "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}
    if r.produces == ("application/json",):
        return {"application/json": {"schema": ok, "example": example(ok, components)}}
    return {ct: {"schema": {"type": "string"}} for ct in r.produces}


def _errors(r: Route, responses: dict[str, Any]) -> None:
    """The error answers a route can give, grouped by status, each in the envelope."""
    codes = ["VALIDATION_ERROR", "RATE_LIMITED", "INTERNAL", "SERVICE_UNAVAILABLE", *r.errors]
    if r.auth:
        # any id a request names (in the path or the body) may be missing or another organization's
        codes += ["UNAUTHORIZED", "NOT_FOUND", "SCOPE_REQUIRED"]
    if f"{r.method} {r.path}" in RECIPIENT_FIELDS:
        codes += ["RECIPIENT_NOT_ALLOWED"]
    if f"{r.method} {r.path}" == SEND_ROUTE:
        codes += ["CAP_EXCEEDED"]
    if r.body is not None:
        codes += ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"]
    if r.method == "POST":
        codes += ["IDEMPOTENCY_KEY_REUSED", "IDEMPOTENCY_IN_FLIGHT"]
    for code in codes:
        status = str(COMMON_ERRORS.get(code, (400, ""))[0])
        entry = responses.setdefault(status, {"description": "", "content": {
            "application/json": {"schema": _ref("ErrorEnvelope"), "example": {
                "success": False, "error": {"code": code, "message": COMMON_ERRORS.get(code, (0, ""))[1],
                                            "details": {"field": "to"} if code == "VALIDATION_ERROR" else {}}}}}})
        entry["description"] = ", ".join(filter(None, [entry["description"], code]))
        if status in ("503", "429") or code == "IDEMPOTENCY_IN_FLIGHT":
            entry["headers"] = {"Retry-After": {"description": "Seconds to wait before retrying (with the same "
                                                               "Idempotency-Key)", "schema": {"type": "integer"}}}


def _mcp_path() -> dict[str, Any]:
    """/mcp is the MCP Streamable HTTP transport (JSON-RPC), not a REST resource: documented as such."""
    def err(code: str, message: str) -> dict[str, Any]:
        return {"schema": _ref("ErrorEnvelope"), "example": {
            "success": False, "error": {"code": code, "message": message, "details": {}}}}

    errors = {"401": {"description": "UNAUTHORIZED (missing, unknown, revoked or expired key; WWW-Authenticate: "
                                     "Bearer)", "content": {"application/json": err(
                                         "UNAUTHORIZED", "missing, malformed, unknown or revoked API key")}},
              "429": {"description": "RATE_LIMITED", "content": {"application/json": err(
                  "RATE_LIMITED", "too many requests; slow down")}}}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "list_numbers", "arguments": {}}}
    answer = {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "{\"numbers\": []}"}],
                                                    "structuredContent": {"numbers": []}, "isError": False}}
    common = {"tags": ["mcp"], "security": [{"bearer": []}]}
    return {
        "post": {**common, "operationId": "post_mcp", "summary": "MCP over Streamable HTTP: one JSON-RPC message",
                 "description": "The Model Context Protocol (2026-07-28 and the handshake-era versions) with the "
                                "API key as bearer. Tools: send_message, check_send, wait_for_reply, wait_for_code, "
                                "list_conversations, get_conversation, get_message, list_numbers, request_consent, "
                                "get_consent; resources conversation://{id}, conversations://recent. Stateless: "
                                "any replica answers. Each tool calls this API with the same key, so its scopes "
                                "and caps apply; an API error is a tool error carrying the API's code.",
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"type": "object"}, "example": call}}},
                 "responses": {"200": {"description": "A JSON-RPC response (application/json) or a stream of them "
                                                      "(text/event-stream)",
                                       "content": {"application/json": {"schema": {"type": "object"},
                                                                        "example": answer},
                                                   "text/event-stream": {"schema": {"type": "string"}}}},
                               "202": {"description": "A notification or response was accepted"}, **errors}},
        "get": {**common, "operationId": "get_mcp", "summary": "MCP server-to-client SSE stream",
                "description": "Kept open while the client listens; this stateless server sends nothing on it.",
                "responses": {"200": {"description": "An SSE stream", "content": {
                    "text/event-stream": {"schema": {"type": "string"}}}},
                    "406": {"description": "The client does not accept text/event-stream (a JSON-RPC error)"},
                    **errors}},
        "delete": {**common, "operationId": "delete_mcp", "summary": "MCP session end (stateless: nothing to end)",
                   "responses": {"200": {"description": "Done"},
                                 "405": {"description": "Not supported (a JSON-RPC error)"},
                                 **errors}},
    }


_EXAMPLE_STRINGS = {
    "email": "dev@example.com", "password": "a-long-password", "organization_name": "Acme Agents",
    "name": "production agent", "text": "hello from agentmessage", "body": "hello agentmessage",
    "from": "+15551234567", "to": "+14155550123", "phone_number": "+14155550123", "contact_number": "+15551234567",
    "balance": "5.0000", "price": "0.0079", "amount": "-1.1500", "monthly_price": "1.1500", "currency": "USD",
    "prefix": "am_live_Ab3d", "secret": "am_live_Ab3dEfGh1234567890abcdefghijklmnopqrstu",
    "webhook_secret": "whsec_3q2+7w...", "csrf_token": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "status": "queued", "cursor": "WyIyMDI2LTA2LTExVDEyOjAwOjAwIiwiLi4uIl0", "next_cursor": None,
    "area_code": "415", "region": "CA", "locality": "San Francisco", "encoding": "GSM-7", "channel": "sms",
}


def example(schema: Any, components: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A plausible value for a JSON Schema: its own example or default, else one made from its type and
    the field's name. Deterministic, so the document is stable."""
    if not isinstance(schema, dict) or depth > 6:
        return None
    if "$ref" in schema:
        return example(components.get(schema["$ref"].rsplit("/", 1)[-1], {}), components, name, depth + 1)
    if schema.get("examples"):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            return example(options[0], components, name, depth + 1) if options else None
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), None)
    if typ == "object" or "properties" in schema:
        return {k: example(v, components, k, depth + 1) for k, v in schema.get("properties", {}).items()}
    if typ == "array":
        item = example(schema.get("items", {}), components, name.rstrip("s"), depth + 1)
        return [] if item is None else [item]
    if typ == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1))
    if typ == "number":
        return 1.0
    if typ == "boolean":
        return False
    if typ == "string":
        if name in _EXAMPLE_STRINGS:
            return _EXAMPLE_STRINGS[name]
        if name == "id" or name.endswith("_id"):
            return "7c1f0a2d-9e8b-4c3a-9d2e-1f0a2b3c4d5e"
        if name.endswith("_at") or name in ("at", "since"):
            return "2026-06-11T12:00:00.000Z"
        if name.endswith("url"):
            return "https://example.com/sms"
        return name.replace("_", " ") or "string"
    return None


def serve_document(routes: list[Route], public_url: str = "") -> Any:
    cache: dict[str, bytes] = {}

    async def handler(request: web.Request) -> web.Response:
        base = public_url or f"{request.scheme}://{request.host}"
        if base not in cache:
            if len(cache) > 16:
                cache.clear()
            cache[base] = msgspec.json.encode(build_document(routes, base))
        return web.Response(body=cache[base], content_type="application/json")

    return handler


def serve_docs(routes: list[Route], public_url: str = "") -> Any:
    from services.gateway.reference import render

    cache: dict[str, str] = {}

    async def handler(request: web.Request) -> web.Response:
        base = public_url or f"{request.scheme}://{request.host}"
        if base not in cache:
            if len(cache) > 16:
                cache.clear()
            cache[base] = render(build_document(routes, base))
        return web.Response(text=cache[base], content_type="text/html", headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:; "
                                       "script-src 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff"})

    return handler
