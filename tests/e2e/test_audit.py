"""The audit: every gate decision listed with every check and its reason (filters, cursor pages, date
range), and decisions and the consent ledger exported as JSONL and CSV with full details and dates."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from proto.base import rfc3339, utcnow
from tests.e2e.test_outbound import Org, handset, onboard
from tests.system import System


async def decisions(org: Org, **params: str) -> list[dict[str, Any]]:
    status, body, _ = await org.call("GET", "/v1/compliance/decisions", params=params)
    assert status == 200, body
    return list(body["data"])


async def export(org: Org, path: str, **params: str) -> str:
    assert org.system.http is not None
    async with org.system.http.get(org.system.gateway + path, params=params,
                                   headers={"Authorization": f"Bearer {org.key}"}) as r:
        assert r.status == 200, await r.text()
        return await r.text()


async def test_every_gate_decision_is_listed_filtered_paged_and_exported(system: System) -> None:
    org = await onboard(system)
    a, b = handset(), handset()
    t0 = rfc3339(utcnow())
    status, body = await org.send(a, text="no consent yet")
    assert status == 453 and body["error"]["code"] == "CONSENT_REQUIRED", body
    await org.consent(a)
    status, body = await org.send(a, text="with consent")
    assert status == 202, body
    sent = body["data"]["id"]
    await org.consent(b)
    status, _, _ = await org.call("DELETE", f"/v1/consent/{b}")
    assert status == 200
    status, body = await org.send(b, text="after revocation")
    assert status == 453 and body["error"]["code"] == "RECIPIENT_OPTED_OUT", body
    await org.until_terminal([sent])

    # every decision on a's sends: the deny, then the accept and the final check of the sent one
    got = await decisions(org, contact=a)
    assert [(d["outcome"], d["stage"]) for d in reversed(got)] == [
        ("deny", "accept"), ("allow", "accept"), ("allow", "submit")], got
    deny = got[-1]
    assert deny["code"] == deny["reason_code"] == "CONSENT_REQUIRED" and deny["reason"], deny
    assert deny["from"] == org.number and deny["contact_number"] == a
    checks = {k["name"]: k for k in deny["checks"]}
    assert checks["consent"]["result"] == "fail" and checks["consent"]["detail"], checks
    assert checks["opt_out"]["result"] == "pass"
    assert {d["message_id"] for d in got[:2]} == {sent}

    # filters: outcome, reason, message id, date range; another organization sees none of it
    denies = await decisions(org, outcome="deny")
    assert {d["code"] for d in denies} == {"CONSENT_REQUIRED", "RECIPIENT_OPTED_OUT"}, denies
    assert [d["contact_number"] for d in await decisions(org, reason="RECIPIENT_OPTED_OUT")] == [b]
    assert len(await decisions(org, message_id=sent)) == 2
    assert await decisions(org, until=t0) == []
    mid = got[1]["decided_at"]
    assert [d["id"] for d in await decisions(org, contact=a, since=mid)] == [d["id"] for d in got[:2]]
    assert [d["id"] for d in await decisions(org, contact=a, until=mid)] == [got[2]["id"]]
    other = await system.signup()
    _, body, _ = await system.call("GET", "/v1/compliance/decisions", key=other["api_key"]["secret"])
    assert body["data"] == []
    status, body, _ = await org.call("GET", "/v1/compliance/decisions", params={"outcome": "maybe"})
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR", body

    # cursor pages: every decision once, newest first
    everything = await decisions(org, limit="100")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        _, body, _ = await org.call("GET", "/v1/compliance/decisions", params=params)
        seen += [d["id"] for d in body["data"]]
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            break
    assert seen == [d["id"] for d in everything] and len(seen) == len(set(seen)) == 4

    # exports: JSONL (oldest first, full views) and CSV (every check in words and as JSON)
    lines = [json.loads(line) for line in (await export(org, "/v1/compliance/decisions/export")).splitlines()]
    assert lines == list(reversed(everything))
    rows = list(csv.DictReader(io.StringIO(await export(org, "/v1/compliance/decisions/export", format="csv",
                                                        outcome="deny", contact=a))))
    assert len(rows) == 1 and rows[0]["code"] == "CONSENT_REQUIRED", rows
    assert "consent=fail" in rows[0]["check_results"]
    assert {k["name"] for k in json.loads(rows[0]["checks"])} == set(checks)
    assert await export(org, "/v1/compliance/decisions/export", since=rfc3339(utcnow())) == ""


async def test_consent_export_has_full_details_and_date_filters(system: System) -> None:
    org = await onboard(system)
    a, b = handset(), handset()
    await org.consent(a)
    between = rfc3339(utcnow())
    await org.consent(b)
    status, _, _ = await org.call("DELETE", f"/v1/consent/{b}")
    assert status == 200

    everything = [json.loads(line) for line in (await export(org, "/v1/consent/export")).splitlines()]
    assert [(e["type"], e["contact_number"]) for e in everything] == [
        ("ConsentGranted", a), ("ConsentGranted", b), ("ConsentRevoked", b), ("OptOutRecorded", b)], everything
    later = [json.loads(line) for line in (await export(org, "/v1/consent/export", since=between)).splitlines()]
    assert [e["contact_number"] for e in later] == [b, b, b]
    earlier = [json.loads(line) for line in (await export(org, "/v1/consent/export", until=between)).splitlines()]
    assert [e["contact_number"] for e in earlier] == [a]
    rows = list(csv.DictReader(io.StringIO(await export(org, "/v1/consent/export", format="csv", since=between))))
    assert [r["type"] for r in rows] == ["ConsentGranted", "ConsentRevoked", "OptOutRecorded"]
    assert rows[0]["disclosure_text"].startswith("I agree to receive texts") and rows[0]["source_url"]
    # what an entry carries beyond the named columns is in details, as JSON
    assert json.loads(rows[2]["details"]) == everything[3]["details"] and everything[3]["details"], rows[2]
    status, body, _ = await org.call("GET", "/v1/consent/export", params={"since": "yesterday"})
    assert status == 400 and body["error"]["details"]["field"] == "since", body


async def test_the_decisions_listing_is_rebuilt_from_the_ledger_pages(system: System) -> None:
    """The migration that created gate_decisions fills it from the GateDecisionsRecorded pages already on
    the ledger: run its backfill over pages whose rows are gone, and every decision is back as it was."""
    org = await onboard(system)
    a = handset()
    status, _ = await org.send(a, text="no consent")
    assert status == 453
    await org.consent(a)
    status, body = await org.send(a, text="with consent")
    assert status == 202
    await org.until_terminal([body["data"]["id"]])
    before = await decisions(org, limit="100")
    assert len(before) == 3
    sql = (Path(__file__).resolve().parents[2] / "services/compliance/sql/0002_gate_decisions.sql").read_text()
    backfill = sql[sql.index("INSERT INTO gate_decisions"):]
    pool = system.services["compliance"].store.pool
    await pool.execute("DELETE FROM gate_decisions WHERE org_id = $1", org.org_id)
    assert await decisions(org) == []
    await pool.execute(backfill)
    assert await decisions(org, limit="100") == before


async def test_a_long_export_is_streamed_page_by_page(system: System, monkeypatch: Any) -> None:
    from services.gateway.routes import consent as routes

    monkeypatch.setattr(routes, "_EXPORT_PAGE", 2)  # the gateway runs in this process
    org = await onboard(system)
    for _ in range(3):
        status, _ = await org.send(handset(), text="no consent")
        assert status == 453
    everything = await decisions(org, limit="100")
    lines = [json.loads(line) for line in (await export(org, "/v1/compliance/decisions/export")).splitlines()]
    assert lines == list(reversed(everything)) and len(lines) == 3
    rows = list(csv.DictReader(io.StringIO(await export(org, "/v1/compliance/decisions/export", format="csv"))))
    assert [r["id"] for r in rows] == [d["id"] for d in reversed(everything)]
