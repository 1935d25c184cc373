"""The OpenAPI 3.1 document, generated from the route table and its msgspec Structs, and an offline
reference page rendered from it (no CDN, no script)."""

from __future__ import annotations

import html
from typing import Any

import msgspec
from aiohttp import web

from proto.api import ErrorEnvelope
from services.gateway.api import Route

COMMON_ERRORS: dict[str, tuple[int, str]] = {
    "VALIDATION_ERROR": (400, "A field is missing or malformed; details.field names it."),
    "FROM_NUMBER_NOT_FOUND": (400, "The from number is not one of your organization's numbers."),
    "UNAUTHORIZED": (401, "Missing, malformed, unknown or revoked API key."),
    "INSUFFICIENT_CREDIT": (402, "Not enough prepaid credit for the request."),
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
    "IDEMPOTENCY_IN_FLIGHT": (409, "A request with this Idempotency-Key is still being processed."),
    "PAYLOAD_TOO_LARGE": (413, "The request body is over the limit."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Send JSON with Content-Type: application/json."),
    "IDEMPOTENCY_KEY_REUSED": (422, "The Idempotency-Key was used with another body."),
    "RATE_LIMITED": (429, "Too many requests; see Retry-After."),
    "DOUBLE_OPT_IN_RATE_LIMITED": (429, "A double opt-in went to this contact less than 24 h ago."),
    "CONSENT_REQUIRED": (453, "No consent on file for the recipient; start a double opt-in."),
    "RECIPIENT_OPTED_OUT": (453, "The recipient opted out; they must text START to opt back in."),
    "QUIET_HOURS": (453, "Outside the recipient's allowed hours and the policy is reject."),
    "INTERNAL": (500, "An unexpected error; it has been logged."),
    "CARRIER_ERROR": (502, "The carrier refused the request in an unexpected way."),
    "SERVICE_UNAVAILABLE": (503, "A backing service is not answering; retry."),
    "SERVICE_TIMEOUT": (503, "A backing service answered too slowly; retry."),
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
        op: dict[str, Any] = {
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": f"{r.method.lower()}_{r.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
        }
        if r.description:
            op["description"] = r.description
        params: list[dict[str, Any]] = []
        for seg in r.path.split("/"):
            if seg.startswith("{"):
                params.append({"name": seg[1:-1], "in": "path", "required": True, "schema": {"type": "string"}})
        if r.query is not None:
            qschema = by_type[r.query]
            qname = qschema.get("$ref", "").rsplit("/", 1)[-1]
            props = components.get(qname, {}).get("properties", {})
            required = set(components.get(qname, {}).get("required", []))
            for name, schema in props.items():
                params.append({"name": name, "in": "query", "required": name in required, "schema": schema})
        if r.method in ("POST", "PATCH", "PUT"):
            params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "schema": {"type": "string", "pattern": "^[A-Za-z0-9_:-]{1,255}$"}})
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": by_type[r.body]}}}
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
            content: dict[str, Any] = {"application/json": {"schema": ok}}
        else:
            content = {ct: {"schema": {"type": "string"}} for ct in r.produces}
        responses: dict[str, Any] = {str(r.status): {"description": "Success", "content": content}}
        codes = ["VALIDATION_ERROR", "RATE_LIMITED", "INTERNAL", "SERVICE_UNAVAILABLE", *r.errors]
        if r.auth:
            # any id a request names (in the path or the body) may be missing or another organization's
            codes += ["UNAUTHORIZED", "NOT_FOUND"]
        if r.body is not None:
            codes += ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"]
        if r.method == "POST":
            codes += ["IDEMPOTENCY_KEY_REUSED", "IDEMPOTENCY_IN_FLIGHT"]
        for code in codes:
            status = str(COMMON_ERRORS.get(code, (400, ""))[0])
            entry = responses.setdefault(status, {"description": "", "content": {
                "application/json": {"schema": _ref("ErrorEnvelope")}}})
            entry["description"] = ", ".join(filter(None, [entry["description"], code]))
        op["responses"] = responses
        if r.auth:
            op["security"] = [{"bearer": []}]
        else:
            op["security"] = []
        paths.setdefault(r.path, {})[r.method.lower()] = op
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "AgentMessage API",
            "version": "1.0.0",
            "description": "SMS for software agents. Every /v1 request but signup takes the API key as a bearer "
                           "token. Responses use the envelope {success, data, meta} / {success:false, error}.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "am_live_..."}},
        },
        "x-error-codes": {k: {"status": v[0], "description": v[1]} for k, v in COMMON_ERRORS.items()},
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc


def serve_document(routes: list[Route]) -> Any:
    cache: dict[str, bytes] = {}

    async def handler(request: web.Request) -> web.Response:
        if "doc" not in cache:
            cache["doc"] = msgspec.json.encode(build_document(routes))
        return web.Response(body=cache["doc"], content_type="application/json")

    return handler


def render_docs(routes: list[Route]) -> str:
    doc = build_document(routes)
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>AgentMessage API reference</title>",
           "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
           "code,pre{background:#f4f4f4;padding:2px 4px;border-radius:3px}pre{padding:8px;overflow:auto}"
           ".m{display:inline-block;min-width:4em;font-weight:bold}.op{border-top:1px solid #ddd;padding:.5em 0}"
           "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}</style>",
           "</head><body><h1>AgentMessage API reference</h1>",
           f"<p>{html.escape(doc['info']['description'])}</p>",
           "<p>Machine-readable: <a href='/v1/openapi.json'>/v1/openapi.json</a></p>"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            out.append(f"<div class='op'><span class='m'>{method.upper()}</span> <code>{html.escape(path)}</code>"
                       f" — {html.escape(op['summary'])}")
            if op.get("description"):
                out.append(f"<p>{html.escape(op['description'])}</p>")
            body = op.get("requestBody")
            if body:
                schema = body["content"]["application/json"]["schema"]
                name = schema.get("$ref", "").rsplit("/", 1)[-1]
                props = doc["components"]["schemas"].get(name, {}).get("properties", {})
                if props:
                    out.append("<p>Body fields: " + ", ".join(f"<code>{html.escape(p)}</code>" for p in props)
                               + "</p>")
            out.append("<p>Responses: " + ", ".join(html.escape(f"{s} {v['description']}")
                                                   for s, v in op["responses"].items()) + "</p></div>")
    out.append("<h2>Error codes</h2><table><tr><th>code</th><th>HTTP</th><th>meaning</th></tr>")
    for code, info in doc["x-error-codes"].items():
        out.append(f"<tr><td><code>{code}</code></td><td>{info['status']}</td>"
                   f"<td>{html.escape(info['description'])}</td></tr>")
    out.append("</table></body></html>")
    return "".join(out)


def serve_docs(routes: list[Route]) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=render_docs(routes), content_type="text/html")

    return handler


async def serve_root(request: web.Request) -> web.Response:
    return web.json_response({"name": "AgentMessage API", "docs": "/docs", "openapi": "/v1/openapi.json"})
