"""amctl — the AgentMessage CLI, for users of the API and for ops (streams, events).

It reads the same settings as the stack (see SETTINGS), so it talks to the stack `make run` started
with the same environment, never silently to another one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from services.amctl import carrier, events

SETTINGS = """settings (the stack's own; flags win):
  --nats URL / AM_NATS_URL    NATS; else nats://127.0.0.1:$AM_NATS_PORT (make run's port, default 14222)
  AM_NATS_USER, AM_NATS_PASSWORD, AM_NATS_TLS_CA/_CERT/_KEY   NATS credentials, as the services use them
  --api URL / AM_API_URL      the gateway; else http://127.0.0.1:$AM_GATEWAY_PORT (default 8080)
  AM_SIM_URL                  the carrier simulator; else http://127.0.0.1:$AM_SIM_PORT (default 8090)
  AM_SUBJECT_ROOT             first token of subjects and stream names (default am)
  AGENTMESSAGE_API_KEY        the API key for API commands
exit status: 0 ok; 1 the API answered an error, or NATS / the API cannot be reached (one line on stderr)."""


def nats_url(flag: str | None = None) -> str:
    return flag or os.environ.get("AM_NATS_URL") or f"nats://127.0.0.1:{os.environ.get('AM_NATS_PORT', '14222')}"


def api_url(flag: str | None = None) -> str:
    url = flag or os.environ.get("AM_API_URL") or f"http://127.0.0.1:{os.environ.get('AM_GATEWAY_PORT', '8080')}"
    return url.rstrip("/")


def sim_url() -> str:
    return (os.environ.get("AM_SIM_URL") or f"http://127.0.0.1:{os.environ.get('AM_SIM_PORT', '8090')}").rstrip("/")


def _probe(url: str) -> None:
    """Connect first with a short timeout: a stopped or unroutable API is reported in seconds."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=3).close()
    except TimeoutError:
        reason = "no answer within 3s"
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
    else:
        return
    raise SystemExit(f"amctl: cannot reach {url}: {reason} (is the stack up? --api, or AM_API_URL / "
                     "AM_GATEWAY_PORT; AM_SIM_URL / AM_SIM_PORT)")


def _http(method: str, url: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
    _probe(url)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        # a long poll waits up to 60 s; anything else answers at once, so an unreachable API fails fast
        with urllib.request.urlopen(req, timeout=75 if "wait=" in url else 10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        reason = getattr(e, "reason", None) or e
        raise SystemExit(f"amctl: cannot reach {url}: {reason} (is the stack up? --api, or AM_API_URL / "
                         "AM_GATEWAY_PORT; AM_SIM_URL / AM_SIM_PORT)") from None


_API_FLAG: list[str | None] = [None]


def api(method: str, path: str, body: Any = None, auth: bool = True) -> int:
    base = api_url(_API_FLAG[0])
    key = os.environ.get("AGENTMESSAGE_API_KEY") if auth else None
    if auth and not key:
        raise SystemExit("set AGENTMESSAGE_API_KEY (amctl signup prints one)")
    status, out = _http(method, base + path, body, key)
    print(json.dumps(out, indent=2))
    return 0 if 200 <= status < 300 else 1


def sim(method: str, path: str, body: Any = None) -> int:
    base = sim_url()
    status, out = _http(method, base + path, body)
    print(json.dumps(out, indent=2))
    return 0 if 200 <= status < 300 else 1


def keys_list(as_json: bool) -> int:
    """Keys with scopes, caps and usage, through the SDK."""
    from agentmessage import ApiError, Client

    if not os.environ.get("AGENTMESSAGE_API_KEY"):
        raise SystemExit("set AGENTMESSAGE_API_KEY (amctl signup prints one)")
    base = api_url(_API_FLAG[0])  # --api, AM_API_URL or AM_GATEWAY_PORT, as every other API command
    _probe(base)
    try:
        with Client(base_url=base) as am:
            keys = list(am.list_keys().data)
    except ApiError as exc:
        print(json.dumps(exc.to_dict(), indent=2))
        return 1
    if as_json:
        print(json.dumps([k.to_dict() for k in keys], indent=2))
        return 0
    print(f"{'ID':36}  {'NAME':16} {'PREFIX':13} {'SCOPES':24} {'SENDS/MIN':>9} {'SENDS/DAY':>9} {'SPEND/DAY':>9}  CAPS")
    for k in keys:
        u = k.usage
        scopes = "all" if k.scopes is None else ",".join(k.scopes)
        caps = "" if k.caps is None else ", ".join(f"{n}={v}" for n, v in k.caps.to_dict().items() if v is not None)
        print(f"{k.id:36}  {k.name[:16]:16} {k.prefix:13} {scopes[:24]:24} {u.sends_this_minute if u else 0:>9} "
              f"{u.sends_today if u else 0:>9} {u.spend_today if u else '':>9}  {caps}")
    return 0


def _q(**params: Any) -> str:
    clean = {k: v for k, v in params.items() if v is not None}
    return ("?" + urllib.parse.urlencode(clean)) if clean else ""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="amctl", description="AgentMessage CLI", epilog=SETTINGS,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nats", help="NATS URL (default: AM_NATS_URL, else 127.0.0.1:$AM_NATS_PORT)")
    p.add_argument("--api", help="API base URL (default: AM_API_URL, else 127.0.0.1:$AM_GATEWAY_PORT)")
    sub = p.add_subparsers(dest="cmd", required=True)
    _operator_commands(sub)
    _account_commands(sub)
    _number_commands(sub)
    _message_commands(sub)
    return p


def _operator_commands(sub: Any) -> None:
    """The operator's commands, over NATS: events, streams, the carrier connector."""
    ev = sub.add_parser("events", help="follow events").add_subparsers(dest="sub", required=True)
    t = ev.add_parser("tail", help="follow events live: amctl events tail [SUBJECT-FILTER]")
    t.add_argument("filter", nargs="?", default=None, help="subject filter (default: every event)")
    t.add_argument("--org", help="only this organization's events")
    t.add_argument("--domain", help="only this domain's stream: accounts, numbers, compliance, outbound, inbound")
    t.add_argument("--type", dest="event_type",
                   help="only this event type, as in the subject: aggregate.event (message.message_delivered) or the event alone")
    t.add_argument("--since", help="start this far back: 30s, 10m, 2h, 1d")
    t.add_argument("--from-seq", type=int)
    t.add_argument("--json", action="store_true")
    t.add_argument("--limit", type=int, help="stop after N events")
    sub.add_parser("streams", help="streams (messages, bytes, replicas, limits) and consumers (pending, "
                                   "ack pending, redelivered)")
    ca = sub.add_parser("carrier", help="the carrier connector").add_subparsers(dest="sub", required=True)
    cs = ca.add_parser("status", help="upstream binds, window in use, submissions by state")
    cs.add_argument("--json", action="store_true")


def _account_commands(sub: Any) -> None:
    """The organization: signup, API keys, the MCP server, conversations, balance."""
    s = sub.add_parser("signup", help="create an organization and print its first API key")
    s.add_argument("--email", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--organization", required=True)
    k = sub.add_parser("keys", help="API keys: create, list, revoke").add_subparsers(dest="sub", required=True)
    kc = k.add_parser("create", help="create a key: scopes (or a preset) and caps are optional")
    kc.add_argument("name")
    kc.add_argument("--preset", choices=["full", "send-only", "read-only"])
    kc.add_argument("--scope", action="append", dest="scopes", help="a scope (repeatable), e.g. messages:send")
    kc.add_argument("--spend-per-day", help="USD, e.g. 1.00")
    kc.add_argument("--sends-per-minute", type=int)
    kc.add_argument("--sends-per-day", type=int)
    kc.add_argument("--allow-recipient", action="append", dest="allowed_recipients",
                    help="an E.164 number or prefix the key may text (repeatable)")
    kc.add_argument("--allow-from", action="append", dest="allowed_from")
    kc.add_argument("--expires-at", help="RFC 3339")
    kl = k.add_parser("list", help="keys with their scopes, caps and usage today")
    kl.add_argument("--json", action="store_true")
    sub.add_parser("mcp", help="the MCP server over stdio (--api / AM_API_URL / AM_GATEWAY_PORT, AGENTMESSAGE_API_KEY)")
    cv = sub.add_parser("conversations", help="conversations: list, messages").add_subparsers(dest="sub", required=True)
    cv.add_parser("list", help="conversations, most recent first")
    cvm = cv.add_parser("messages", help="a conversation's messages, both directions")
    cvm.add_argument("id")
    kr = k.add_parser("revoke", help="revoke a key")
    kr.add_argument("id")
    sub.add_parser("balance", help="credit balance and recent ledger")


def _number_commands(sub: Any) -> None:
    """Numbers, the simulator's handsets, inbound messages."""
    n = sub.add_parser("numbers", help="phone numbers: search, order, list").add_subparsers(dest="sub", required=True)
    ns = n.add_parser("search", help="available numbers in an area code")
    ns.add_argument("area_code")
    ns.add_argument("--quantity", type=int, default=5)
    no = n.add_parser("order", help="order numbers")
    no.add_argument("numbers", nargs="+")
    n.add_parser("list", help="your numbers")

    sm = sub.add_parser("sim", help="the carrier simulator's handsets").add_subparsers(dest="sub", required=True)
    st = sm.add_parser("text", help="a handset texts a number")
    st.add_argument("--from", dest="from_", required=True)
    st.add_argument("--to", required=True)
    st.add_argument("text")
    si = sm.add_parser("inbox", help="what a handset has received")
    si.add_argument("number")

    ib = sub.add_parser("inbound", help="texts received: list, wait").add_subparsers(dest="sub", required=True)
    il = ib.add_parser("list", help="texts received, newest first")
    il.add_argument("--limit", type=int, default=20)
    il.add_argument("--to")
    il.add_argument("--from", dest="from_")
    iw = ib.add_parser("wait", help="long-poll for the next inbound message")
    iw.add_argument("--seconds", type=int, default=60)
    iw.add_argument("--after")
    iw.add_argument("--from", dest="from_")
    iw.add_argument("--to")
    iw.add_argument("--otp", action="store_true", help="only a message carrying a one-time code")


def _message_commands(sub: Any) -> None:
    """Sending and messages, brands and campaigns (their review by the operator, over NATS)."""
    sd = sub.add_parser("send", help="send a text")
    sd.add_argument("--from", dest="from_", required=True)
    sd.add_argument("--to", required=True)
    sd.add_argument("text")
    ms = sub.add_parser("messages", help="messages sent: list, get, cancel").add_subparsers(dest="sub", required=True)
    ml = ms.add_parser("list", help="messages sent, newest first")
    ml.add_argument("--status")
    ml.add_argument("--limit", type=int, default=20)
    mg = ms.add_parser("get", help="a message with its timeline")
    mg.add_argument("id")
    mc = ms.add_parser("cancel", help="cancel a scheduled or queued message")
    mc.add_argument("id")

    br = sub.add_parser("brands", help="10DLC brands: list, create").add_subparsers(dest="sub", required=True)
    br.add_parser("list", help="your brands")
    bc = br.add_parser("create", help="register a brand from a JSON body")
    bc.add_argument("json")
    cp = sub.add_parser("campaigns", help="10DLC campaigns: list, get, create (approve, reject: operator)").add_subparsers(dest="sub", required=True)
    cp.add_parser("list", help="your campaigns")
    cg = cp.add_parser("get", help="a campaign and its review")
    cg.add_argument("id")
    ca_ = cp.add_parser("approve", help="operator: record the carrier's approval of a campaign (NATS)")
    ca_.add_argument("id")
    cr = cp.add_parser("reject", help="operator: record the carrier's rejection of a campaign (NATS)")
    cr.add_argument("id")
    cr.add_argument("--reason", action="append", required=True, metavar="CODE[:DESCRIPTION]",
                    help="a rejection reason, e.g. --reason 'MISSING_OPT_OUT:samples lack STOP language'")
    cc = cp.add_parser("create", help="register a campaign from a JSON body")
    cc.add_argument("json")


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    _API_FLAG[0] = a.api
    nats = nats_url(a.nats)
    root = os.environ.get("AM_SUBJECT_ROOT", "am")
    done = _operator(a, nats, root)
    if done is None:
        done = _public_api(a)
    return 2 if done is None else done


def _operator(a: argparse.Namespace, nats: str, root: str) -> int | None:
    """Commands that speak NATS (or stdio), not the public API; None: not one of them."""
    match a.cmd, getattr(a, "sub", None):
        case "events", "tail":
            try:
                asyncio.run(events.tail(nats, root, a.filter or f"{root}.>", a.org, a.since, a.from_seq, a.json,
                                        a.limit, a.domain, a.event_type))
            except KeyboardInterrupt:
                pass
            return 0
        case "streams", _:
            asyncio.run(events.streams(nats, root))
            return 0
        case "carrier", "status":
            return asyncio.run(carrier.status(nats, root, a.json))
        case "mcp", _:
            from libs.mcptools.stdio import run_stdio

            run_stdio(api_url(a.api))
            return 0
        case "campaigns", "approve":
            return asyncio.run(carrier.review_campaign(nats, root, a.id, True, []))
        case "campaigns", "reject":
            return asyncio.run(carrier.review_campaign(nats, root, a.id, False, a.reason))
    return None


def _public_api(a: argparse.Namespace) -> int | None:
    """Commands that call the public API (or the simulator) over HTTP; None: not one of them."""
    match a.cmd, getattr(a, "sub", None):
        case "signup", _:
            return api("POST", "/v1/signup", {"email": a.email, "password": a.password,
                                              "organization_name": a.organization}, auth=False)
        case "keys", "create":
            caps = {k: v for k, v in {
                "spend_per_day": a.spend_per_day, "sends_per_minute": a.sends_per_minute,
                "sends_per_day": a.sends_per_day, "allowed_recipients": a.allowed_recipients,
                "allowed_from": a.allowed_from, "expires_at": a.expires_at}.items() if v is not None}
            body: dict[str, Any] = {"name": a.name, "preset": a.preset, "scopes": a.scopes, "caps": caps or None}
            return api("POST", "/v1/api-keys", {k: v for k, v in body.items() if v is not None})
        case "keys", "list":
            return keys_list(a.json)
        case "conversations", "list":
            return api("GET", "/v1/conversations")
        case "conversations", "messages":
            return api("GET", f"/v1/conversations/{a.id}/messages")
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
                                                           otp="true" if a.otp else None, **{"from": a.from_}))
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
    return None


def run() -> int:
    try:
        return main()
    except BrokenPipeError:  # `amctl streams | head`
        sys.stderr.close()
        return 0
    except SystemExit as exc:
        if isinstance(exc.code, str):  # one clear line, no traceback
            print(exc.code, file=sys.stderr)
            return 1
        return int(exc.code or 0)


if __name__ == "__main__":
    sys.exit(run())
