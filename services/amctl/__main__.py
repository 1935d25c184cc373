"""amctl — the AgentMessage CLI.

Settings: AM_API_URL (default http://127.0.0.1:8080), AGENTMESSAGE_API_KEY, AM_SIM_URL
(http://127.0.0.1:8090), AM_NATS_URL (nats://127.0.0.1:14222), AM_SUBJECT_ROOT (am).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from services.amctl import events


def _http(method: str, url: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=75) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")
    except urllib.error.URLError as e:
        raise SystemExit(f"cannot reach {url}: {e.reason} (is `make run` up? set AM_API_URL / AM_SIM_URL)") from e


def api(method: str, path: str, body: Any = None, auth: bool = True) -> int:
    base = os.environ.get("AM_API_URL", "http://127.0.0.1:8080").rstrip("/")
    key = os.environ.get("AGENTMESSAGE_API_KEY") if auth else None
    if auth and not key:
        raise SystemExit("set AGENTMESSAGE_API_KEY (amctl signup prints one)")
    status, out = _http(method, base + path, body, key)
    print(json.dumps(out, indent=2))
    return 0 if 200 <= status < 300 else 1


def sim(method: str, path: str, body: Any = None) -> int:
    base = os.environ.get("AM_SIM_URL", "http://127.0.0.1:8090").rstrip("/")
    status, out = _http(method, base + path, body)
    print(json.dumps(out, indent=2))
    return 0 if 200 <= status < 300 else 1


def _q(**params: Any) -> str:
    clean = {k: v for k, v in params.items() if v is not None}
    return ("?" + urllib.parse.urlencode(clean)) if clean else ""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="amctl", description="AgentMessage CLI")
    sub = p.add_subparsers(dest="cmd", required=True)

    ev = sub.add_parser("events", help="follow events").add_subparsers(dest="sub", required=True)
    t = ev.add_parser("tail", help="follow events live: amctl events tail [SUBJECT-FILTER]")
    t.add_argument("filter", nargs="?", default=None, help="subject filter (default: every event)")
    t.add_argument("--org")
    t.add_argument("--since", help="start this far back: 30s, 10m, 2h, 1d")
    t.add_argument("--from-seq", type=int)
    t.add_argument("--json", action="store_true")
    t.add_argument("--limit", type=int, help="stop after N events")
    sub.add_parser("streams", help="streams, consumers and their lag")

    s = sub.add_parser("signup", help="create an organization and print its first API key")
    s.add_argument("--email", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--organization", required=True)
    k = sub.add_parser("keys").add_subparsers(dest="sub", required=True)
    kc = k.add_parser("create")
    kc.add_argument("name")
    k.add_parser("list")
    kr = k.add_parser("revoke")
    kr.add_argument("id")
    sub.add_parser("balance")

    n = sub.add_parser("numbers").add_subparsers(dest="sub", required=True)
    ns = n.add_parser("search")
    ns.add_argument("area_code")
    ns.add_argument("--quantity", type=int, default=5)
    no = n.add_parser("order")
    no.add_argument("numbers", nargs="+")
    n.add_parser("list")

    sm = sub.add_parser("sim", help="the carrier simulator's handsets").add_subparsers(dest="sub", required=True)
    st = sm.add_parser("text", help="a handset texts a number")
    st.add_argument("--from", dest="from_", required=True)
    st.add_argument("--to", required=True)
    st.add_argument("text")
    si = sm.add_parser("inbox", help="what a handset has received")
    si.add_argument("number")

    ib = sub.add_parser("inbound").add_subparsers(dest="sub", required=True)
    il = ib.add_parser("list")
    il.add_argument("--limit", type=int, default=20)
    il.add_argument("--to")
    il.add_argument("--from", dest="from_")
    iw = ib.add_parser("wait", help="long-poll for the next inbound message")
    iw.add_argument("--seconds", type=int, default=60)
    iw.add_argument("--after")
    iw.add_argument("--from", dest="from_")
    iw.add_argument("--to")

    sd = sub.add_parser("send", help="send a text")
    sd.add_argument("--from", dest="from_", required=True)
    sd.add_argument("--to", required=True)
    sd.add_argument("text")
    ms = sub.add_parser("messages").add_subparsers(dest="sub", required=True)
    ml = ms.add_parser("list")
    ml.add_argument("--status")
    ml.add_argument("--limit", type=int, default=20)
    mg = ms.add_parser("get")
    mg.add_argument("id")
    mc = ms.add_parser("cancel", help="cancel a scheduled or queued message")
    mc.add_argument("id")

    br = sub.add_parser("brands").add_subparsers(dest="sub", required=True)
    br.add_parser("list")
    bc = br.add_parser("create", help="register a brand from a JSON body")
    bc.add_argument("json")
    cp = sub.add_parser("campaigns").add_subparsers(dest="sub", required=True)
    cp.add_parser("list")
    cg = cp.add_parser("get")
    cg.add_argument("id")
    cc = cp.add_parser("create", help="register a campaign from a JSON body")
    cc.add_argument("json")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    nats_url = os.environ.get("AM_NATS_URL", "nats://127.0.0.1:14222")
    root = os.environ.get("AM_SUBJECT_ROOT", "am")
    match a.cmd, getattr(a, "sub", None):
        case "events", "tail":
            try:
                asyncio.run(events.tail(nats_url, root, a.filter or f"{root}.>", a.org, a.since, a.from_seq, a.json, a.limit))
            except KeyboardInterrupt:
                pass
            return 0
        case "streams", _:
            asyncio.run(events.streams(nats_url, root))
            return 0
        case "signup", _:
            return api("POST", "/v1/signup", {"email": a.email, "password": a.password,
                                              "organization_name": a.organization}, auth=False)
        case "keys", "create":
            return api("POST", "/v1/api-keys", {"name": a.name})
        case "keys", "list":
            return api("GET", "/v1/api-keys")
        case "keys", "revoke":
            return api("DELETE", f"/v1/api-keys/{a.id}")
        case "balance", _:
            return api("GET", "/v1/balance")
        case "numbers", "search":
            return api("POST", "/v1/phone-numbers/search", {"area_code": a.area_code, "quantity": a.quantity})
        case "numbers", "order":
            return api("POST", "/v1/phone-numbers/orders", {"numbers": a.numbers})
        case "numbers", "list":
            return api("GET", "/v1/phone-numbers")
        case "sim", "text":
            return sim("POST", "/sim/messages", {"from": a.from_, "to": a.to, "text": a.text})
        case "sim", "inbox":
            return sim("GET", f"/sim/handsets/{urllib.parse.quote(a.number)}/messages")
        case "inbound", "list":
            return api("GET", "/v1/inbound-messages" + _q(limit=a.limit, to=a.to, **{"from": a.from_}))
        case "inbound", "wait":
            return api("GET", "/v1/inbound-messages" + _q(wait=a.seconds, after=a.after, to=a.to,
                                                           **{"from": a.from_}))
        case "send", _:
            return api("POST", "/v1/messages", {"from": a.from_, "to": a.to, "text": a.text})
        case "messages", "list":
            return api("GET", "/v1/messages" + _q(status=a.status, limit=a.limit))
        case "messages", "get":
            return api("GET", f"/v1/messages/{a.id}")
        case "messages", "cancel":
            return api("POST", f"/v1/messages/{urllib.parse.quote(a.id)}/cancel")
        case "brands", "list":
            return api("GET", "/v1/brands")
        case "brands", "create":
            return api("POST", "/v1/brands", json.loads(a.json))
        case "campaigns", "list":
            return api("GET", "/v1/campaigns")
        case "campaigns", "get":
            return api("GET", f"/v1/campaigns/{a.id}")
        case "campaigns", "create":
            return api("POST", "/v1/campaigns", json.loads(a.json))
    return 2


if __name__ == "__main__":
    sys.exit(main())
