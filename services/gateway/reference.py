"""The API reference at /docs, rendered on the server from the OpenAPI document: navigation by tag, every
operation with its parameters, request and response schemas (nested fields expanded), examples, error
codes and authentication. Plain HTML and a local stylesheet: no script, no CDN, works offline."""

from __future__ import annotations

import html
import json
from typing import Any

_TAG_TITLES = {
    "accounts": "Accounts and keys", "sessions": "Dashboard sessions", "phone numbers": "Phone numbers",
    "inbound": "Inbound messages", "10DLC": "10DLC brands and campaigns", "consent": "Consent",
    "compliance": "Compliance", "messages": "Messages",
}
_TAG_ORDER = ["accounts", "sessions", "phone numbers", "inbound", "10DLC", "consent", "compliance", "messages"]


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _resolve(schema: Any, components: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The schema behind a $ref, and the component's name (or "")."""
    name = ""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 10:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = components.get(name, {})
        seen += 1
    return (schema if isinstance(schema, dict) else {}), name


def _type(schema: Any, components: dict[str, Any]) -> str:
    if not isinstance(schema, dict):
        return "any"
    if "$ref" in schema:
        inner, name = _resolve(schema, components)
        if inner.get("type") == "object" or "properties" in inner:
            return f"object ({name})"
        return _type(inner, components)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type(o, components) for o in schema[key])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    typ = schema.get("type", "any")
    if isinstance(typ, list):
        typ = " | ".join(typ)
    if typ == "array":
        return f"array of {_type(schema.get('items', {}), components)}"
    return str(typ)


def _constraints(schema: dict[str, Any]) -> list[str]:
    out = []
    for key, label in (("minLength", "min length"), ("maxLength", "max length"), ("minimum", "≥"),
                       ("maximum", "≤"), ("minItems", "min items"), ("maxItems", "max items"),
                       ("pattern", "pattern"), ("format", "format")):
        if key in schema:
            out.append(f"{label} {schema[key]}")
    if "default" in schema:
        out.append(f"default {json.dumps(schema['default'])}")
    return out


def _rows(schema: Any, components: dict[str, Any], prefix: str = "", depth: int = 0) -> list[str]:
    """One table row per field, nested objects (and arrays of objects) expanded with dotted names."""
    obj, _ = _resolve(schema, components)
    if depth > 4 or not (obj.get("type") == "object" or "properties" in obj):
        return []
    required = set(obj.get("required", []))
    rows: list[str] = []
    for name, prop in obj.get("properties", {}).items():
        full = f"{prefix}{name}"
        inner, _ = _resolve(prop, components)
        options = [o for o in prop.get("anyOf", []) if o.get("type") != "null"] if isinstance(prop, dict) else []
        if len(options) == 1:
            inner, _ = _resolve(options[0], components)
        desc = inner.get("description") or (prop.get("description", "") if isinstance(prop, dict) else "")
        notes = _constraints(inner)
        rows.append(
            f"<tr><td><code>{_e(full)}</code></td><td>{_e(_type(prop, components))}</td>"
            f"<td>{'required' if name in required else 'optional'}</td>"
            f"<td>{_e(desc)}{'<br><small>' + _e('; '.join(notes)) + '</small>' if notes else ''}</td></tr>")
        if inner.get("type") == "object" or "properties" in inner:
            rows += _rows(inner, components, f"{full}.", depth + 1)
        elif inner.get("type") == "array":
            rows += _rows(inner.get("items", {}), components, f"{full}[].", depth + 1)
    return rows


def _schema_table(schema: Any, components: dict[str, Any], caption: str) -> str:
    rows = _rows(schema, components)
    if not rows:
        return f"<p>{_e(caption)}: <code>{_e(_type(schema, components))}</code></p>"
    return (f"<table class='fields'><caption>{_e(caption)}</caption><thead><tr><th scope='col'>field</th>"
            "<th scope='col'>type</th><th scope='col'></th><th scope='col'>description</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _json(value: Any) -> str:
    return f"<pre><code>{_e(json.dumps(value, indent=2, ensure_ascii=False))}</code></pre>"


def _curl(base: str, method: str, path: str, op: dict[str, Any]) -> str:
    parts = [f"curl -X {method.upper()} {base}{path}"] if method != "get" else [f"curl {base}{path}"]
    if op.get("security"):
        parts.append('  -H "Authorization: Bearer $AGENTMESSAGE_API_KEY"')
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    if body:
        parts.append('  -H "Content-Type: application/json"')
        parts.append(f"  -d '{json.dumps(body.get('example', {}), ensure_ascii=False)}'")
    return "<pre><code>" + _e(" \\\n".join(parts)) + "</code></pre>"


def _anchor(method: str, path: str) -> str:
    return "op-" + method + "-" + "".join(ch if ch.isalnum() else "-" for ch in path).strip("-")


def _operation(base: str, path: str, method: str, op: dict[str, Any], components: dict[str, Any],
               errors: dict[str, Any]) -> str:
    out = [f"<section class='op' id='{_anchor(method, path)}' aria-labelledby='{_anchor(method, path)}-h'>",
           f"<h3 id='{_anchor(method, path)}-h'><span class='m m-{method}'>{method.upper()}</span> "
           f"<code>{_e(path)}</code></h3><p class='summary'>{_e(op['summary'])}</p>"]
    if op.get("description"):
        out.append(f"<p>{_e(op['description'])}</p>")
    if op.get("security"):
        out.append("<p class='auth'>Auth: <code>Authorization: Bearer am_live_…</code> "
                   "(or the dashboard session cookie with <code>X-CSRF-Token</code>).</p>")
    else:
        out.append("<p class='auth'>Auth: none (public).</p>")
    params = op.get("parameters", [])
    if params:
        rows = "".join(
            f"<tr><td><code>{_e(p['name'])}</code></td><td>{_e(p['in'])}</td>"
            f"<td>{_e(_type(p.get('schema', {}), components))}</td><td>{'required' if p.get('required') else 'optional'}"
            f"</td><td>{_e(p.get('schema', {}).get('description', ''))}</td></tr>" for p in params)
        out.append("<table class='fields'><caption>Parameters</caption><thead><tr><th scope='col'>name</th>"
                   "<th scope='col'>in</th><th scope='col'>type</th><th scope='col'></th>"
                   f"<th scope='col'>description</th></tr></thead><tbody>{rows}</tbody></table>")
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        out.append("<h4>Request body</h4>" + _schema_table(body["schema"], components, "Request body (JSON)"))
        out.append("<details><summary>Example request</summary>" + _json(body.get("example")) + "</details>")
    out.append("<h4>Responses</h4>")
    for status, resp in op["responses"].items():
        content = resp.get("content", {})
        if status.startswith("2"):
            js = content.get("application/json")
            if js:
                data = js["schema"].get("properties", {}).get("data", {})
                out.append(f"<p><strong>{_e(status)}</strong> — envelope <code>{{success: true, data"
                           f"{', meta' if 'meta' in js['schema'].get('properties', {}) else ''}}}</code></p>")
                out.append(_schema_table(data, components, f"{status}: data"))
                out.append(f"<details><summary>Example {status} response</summary>{_json(js.get('example'))}</details>")
            else:
                kinds = ", ".join(content)
                out.append(f"<p><strong>{_e(status)}</strong> — a stream: <code>{_e(kinds)}</code></p>")
    codes = [(s, r["description"]) for s, r in op["responses"].items() if not s.startswith("2")]
    if codes:
        items = []
        for status, desc in codes:
            parts = [c.strip() for c in desc.split(",") if c.strip()]
            names = (", ".join(f"<a href='#err-{_e(c)}'><code>{_e(c)}</code></a>" for c in parts)
                     if all(c in errors for c in parts) else _e(desc))  # /mcp's are words, not codes
            items.append(f"<li><strong>{_e(status)}</strong> {names}</li>")
        out.append(f"<p>Errors (envelope <code>{{success: false, error}}</code>):</p><ul class='errors'>"
                   f"{''.join(items)}</ul>")
    out.append("<details><summary>curl</summary>" + _curl(base, method, path, op) + "</details></section>")
    return "".join(out)


def _navigation(tags: list[str], by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]]) -> list[str]:
    nav = ["<nav aria-label='Reference'><p class='brand'>AgentMessage API</p><ul>",
           "<li><a href='#intro'>Introduction</a></li><li><a href='#auth'>Authentication</a></li>",
           "<li><a href='#conventions'>Conventions</a></li><li><a href='#errors'>Error codes</a></li></ul>"]
    for tag in tags:
        nav.append(f"<h2 class='navtag'>{_e(_TAG_TITLES.get(tag, tag))}</h2><ul>")
        for path, method, _op in by_tag[tag]:
            nav.append(f"<li><a href='#{_anchor(method, path)}'><span class='m m-{method}'>{method.upper()}</span> "
                       f"{_e(path.removeprefix('/v1'))}</a></li>")
        nav.append("</ul>")
    nav.append("</nav>")
    return nav


def _introduction(doc: dict[str, Any], base: str) -> list[str]:
    """Introduction, authentication and conventions: what every operation below takes for granted."""
    return [
        "<section id='intro' aria-labelledby='intro-h'><h2 id='intro-h'>Introduction</h2>",
        f"<p>{_e(doc['info']['description'])}</p>",
        f"<p>Base URL: <code>{_e(base)}</code>. Machine-readable: <a href='/v1/openapi.json'>/v1/openapi.json</a> "
        "(OpenAPI 3.1). The dashboard is at <a href='/'>/</a>.</p></section>",
        "<section id='auth' aria-labelledby='auth-h'><h2 id='auth-h'>Authentication</h2>",
        "<p>Send an API key as a bearer token: <code>Authorization: Bearer am_live_…</code>. Keys are created in "
        "the dashboard under Settings → API keys (or with <code>POST /v1/api-keys</code>); the secret is shown once. "
        "Every request is scoped to the key's organization.</p>",
        "<p>The dashboard authenticates with a session instead: <code>POST /v1/sessions</code> sets an HttpOnly, "
        "SameSite cookie <code>am_session</code> and answers a <code>csrf_token</code>, which every /v1 request made "
        "with the cookie carries as <code>X-CSRF-Token</code> (else <code>403 CSRF_FAILED</code>). "
        "<code>DELETE /v1/sessions/current</code> logs out; <code>DELETE /v1/sessions</code> logs out everywhere.</p>"
        "<p>Open, no key: <code>POST /v1/signup</code>, <code>POST /v1/sessions</code>, health and these docs.</p>"
        "</section>",
        "<section id='conventions' aria-labelledby='conv-h'><h2 id='conv-h'>Conventions</h2><ul>",
        "<li><strong>Envelope</strong>: <code>{\"success\": true, \"data\": …, \"meta\": …}</code> or "
        "<code>{\"success\": false, \"error\": {\"code\", \"message\", \"details\"}}</code>; "
        "<code>400 VALIDATION_ERROR</code> names the field in <code>details.field</code>.</li>",
        "<li><strong>Pagination</strong>: <code>limit</code> 1 to 100 (default 20) and an opaque <code>cursor</code>; "
        "<code>meta.next_cursor</code> is null on the last page.</li>",
        "<li><strong>Idempotency</strong>: any POST may carry <code>Idempotency-Key</code>; the first success is "
        "replayed for 24 h (<code>Idempotent-Replayed: true</code>).</li>",
        "<li><strong>Rate limits</strong>: a token bucket per key; <code>X-RateLimit-*</code> headers on every "
        "answer, <code>429 RATE_LIMITED</code> with <code>Retry-After</code>.</li>",
        "<li><strong>Request id</strong>: every answer carries <code>X-Request-ID</code>; quote it when asking "
        "about a request (every log line the request caused, in every service, carries it as its trace id).</li>",
        "<li><strong>Formats</strong>: ids are UUIDs, times RFC 3339 UTC with milliseconds, money a decimal "
        "string in USD (<code>\"5.0000\"</code>), phone numbers E.164.</li></ul></section>",
    ]



def render(doc: dict[str, Any]) -> str:
    components = doc["components"]["schemas"]
    errors = doc.get("x-error-codes", {})
    base = doc.get("servers", [{"url": ""}])[0]["url"]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            by_tag.setdefault(op["tags"][0], []).append((path, method, op))
    tags = [t for t in _TAG_ORDER if t in by_tag] + [t for t in by_tag if t not in _TAG_ORDER]
    nav = _navigation(tags, by_tag)
    body = _introduction(doc, base)
    for tag in tags:
        slug = "".join(ch if ch.isalnum() else "-" for ch in tag.lower())
        body.append(f"<section class='tag' aria-labelledby='tag-{slug}'><h2 id='tag-{slug}'>"
                    f"{_e(_TAG_TITLES.get(tag, tag))}</h2>")
        for path, method, op in by_tag[tag]:
            body.append(_operation(base, path, method, op, components, errors))
        body.append("</section>")
    body.append("<section id='errors' aria-labelledby='errors-h'><h2 id='errors-h'>Error codes</h2>"
                "<table class='fields'><caption>Every error code</caption><thead><tr><th scope='col'>code</th>"
                "<th scope='col'>HTTP</th><th scope='col'>meaning</th></tr></thead><tbody>")
    for code, info in errors.items():
        body.append(f"<tr id='err-{_e(code)}'><td><code>{_e(code)}</code></td><td>{info['status']}</td>"
                    f"<td>{_e(info['description'])}</td></tr>")
    body.append("</tbody></table></section>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>AgentMessage API reference</title><link rel='icon' href='data:,'>"
            "<link rel='stylesheet' href='/static/docs.css'></head><body>"
            "<a class='skip' href='#main'>Skip to content</a><div class='layout'>"
            + "".join(nav)
            + "<main id='main'><h1>AgentMessage API reference</h1>" + "".join(body) + "</main></div></body></html>")
