"""The reference: /v1/openapi.json has servers and examples; /docs renders every operation from it,
with schemas, examples, error codes and auth, and loads nothing from another origin."""

from __future__ import annotations

import re

from services.gateway.reference import _anchor
from tests.system import System


async def test_openapi_has_servers_and_examples(system: System) -> None:
    status, doc, _ = await system.call("GET", "/v1/openapi.json")
    assert status == 200
    assert doc["servers"][0]["url"] == system.gateway
    assert {"bearer", "session", "csrf"} <= set(doc["components"]["securitySchemes"])
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody")
            if body:
                assert body["content"]["application/json"]["example"], (method, path)
            if op["tags"] == ["mcp"]:  # /mcp answers JSON-RPC (the transport's own errors too), not the envelope
                continue
            ok = next(r for s, r in op["responses"].items() if s.startswith("2"))
            js = ok["content"].get("application/json")
            if js:
                assert js["example"]["success"] is True and "data" in js["example"], (method, path)
            for s, r in op["responses"].items():
                if not s.startswith("2"):
                    assert r["content"]["application/json"]["example"]["success"] is False
                assert "X-Request-ID" in r["headers"], (method, path, s)
    signup = doc["paths"]["/v1/signup"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert signup["email"] == "dev@example.com" and signup["organization_name"] == "Acme Agents"


async def test_docs_render_every_operation_offline(system: System) -> None:
    _, doc, _ = await system.call("GET", "/v1/openapi.json")
    status, page, headers = await system.call("GET", "/docs")
    assert status == 200 and "AgentMessage API reference" in page
    assert "script-src 'none'" in headers["Content-Security-Policy"]
    for path, ops in doc["paths"].items():
        for method in ops:
            anchor = _anchor(method, path)
            assert f"id='{anchor}'" in page and f"href='#{anchor}'" in page, (method, path)
    for code in doc["x-error-codes"]:
        assert f"id='err-{code}'" in page
    # every link to an error code has its row (/mcp's answers are described in words, not codes)
    targets = set(re.findall(r"id='([^']+)'", page))
    assert [a for a in re.findall(r"href='#(err-[^']*)'", page) if a not in targets] == []
    assert "Not supported (a JSON-RPC error)" in page
    # schemas (nested fields expanded), examples, auth
    assert "<code>evidence.disclosure_text</code>" in page
    assert "Example request" in page and "Authorization: Bearer" in page and "X-CSRF-Token" in page
    # nothing from elsewhere: no script at all, styles from this origin
    assert "<script" not in page
    assert re.findall(r"<link[^>]+href='([^']+)'", page) == ["data:,", "/static/docs.css"]
    status, css, _ = await system.call("GET", "/static/docs.css")
    assert status == 200 and ".op" in css
