"""Carrier simulator app: the HTTP routes of the carrier API and the simulator controls."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, TypeVar
from urllib.parse import unquote

import aiohttp
import msgspec
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from libs.phone import is_sender_id

from .config import SimConfig
from .numbers import describe, in_inventory, inventory, is_e164, is_valid_area_code
from .review import CampaignRequest
from .smsc import Smsc
from .world import (
    CALLBACK_TIMEOUT_S,
    Faults,
    Handset,
    MessageBatch,
    MessageRequest,
    Millis,
    World,
    now_rfc3339,
)

log = structlog.get_logger("carrier_sim")

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WORLD: Final = web.AppKey("world", World)


class ApiError(Exception):
    """A JSON error answer: {"error": <error>, **extra} with an HTTP status."""

    def __init__(self, status: int, error: str, **extra: object) -> None:
        super().__init__(error)
        self.status = status
        self.body: dict[str, object] = {"error": error, **extra}


class ConfigPatch(msgspec.Struct, kw_only=True):
    receipt_delay_ms: Millis | None = None
    review_delay_ms: Millis | None = None
    faults: Faults | None = None


class AssignRequest(msgspec.Struct, kw_only=True):
    numbers: list[str]
    account_ref: str


class ReleaseRequest(msgspec.Struct, kw_only=True):
    number: str
    account_ref: str


def vetting_score(ein_digits: str) -> int:
    """Deterministic vetting score 1..100: int(sha256(ein digits).hexdigest(), 16) % 100 + 1."""
    return int(hashlib.sha256(ein_digits.encode()).hexdigest(), 16) % 100 + 1


def check_e164(value: str, field: str) -> str:
    if not is_e164(value):
        raise ApiError(400, "invalid_number", field=field)
    return value


def check_sender(value: str, field: str) -> str:
    """An E.164 handset, or who else texts a number: a short code (a sign-in code's sender) or an
    alphanumeric sender id (``libs.phone.is_sender_id``)."""
    if is_e164(value) or is_sender_id(value):
        return value.strip()
    raise ApiError(400, "invalid_sender", field=field,
                   detail="an E.164 number, a short code of 3-8 digits, or an alphanumeric sender id of up to 11 "
                          "characters")


def path_number(request: web.Request) -> str:
    """The {e164} path segment, tolerating %2B, a literal +, a space (decoded +) or no +."""
    raw = unquote(request.match_info["e164"]).strip()
    return check_e164("+" + raw.lstrip("+"), "e164")


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(data), status=status, content_type="application/json")


async def decode(request: web.Request, kind: type[T]) -> T:
    try:
        return msgspec.json.decode(await request.read(), type=kind)
    except msgspec.DecodeError as exc:
        raise ApiError(400, "invalid_request", detail=str(exc)) from None


# -- carrier API ---------------------------------------------------------------------------------
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def available_numbers(request: web.Request) -> web.Response:
    world, query = request.app[WORLD], request.query
    npa = query.get("area_code", "")
    if not is_valid_area_code(npa):
        raise ApiError(400, "invalid_area_code")
    quantity = query.get("quantity", "10")
    if not quantity.isdigit() or not 1 <= int(quantity) <= 100:
        raise ApiError(400, "invalid_quantity")
    contains = query.get("contains", "")
    if contains and not contains.isdigit():
        raise ApiError(400, "invalid_contains")
    free = (n for n in inventory(npa) if n not in world.state.assignments and contains in n[1:])
    numbers = []
    for e164 in free:
        region, locality = describe(e164)
        numbers.append(
            {
                "e164": e164,
                "region": region,
                "locality": locality,
                "capabilities": ["sms", "mms"],
                "monthly_price": world.cfg.number_price,
            }
        )
        if len(numbers) == int(quantity):
            break
    return json_response({"numbers": numbers})


async def assign_numbers(request: web.Request) -> web.Response:
    world, req = request.app[WORLD], await decode(request, AssignRequest)
    if not req.numbers or not req.account_ref:
        raise ApiError(400, "invalid_request", detail="numbers and account_ref are required")
    numbers = list(dict.fromkeys(req.numbers))
    owners = world.state.assignments
    unavailable = [
        n for n in numbers if not in_inventory(n) or owners.get(n, req.account_ref) != req.account_ref
    ]
    if unavailable:
        raise ApiError(409, "unavailable", unavailable=unavailable)
    for number in numbers:
        owners[number] = req.account_ref
        world.state.released.pop(number, None)
    world.changed()
    log.info("numbers_assigned", account_ref=req.account_ref, count=len(numbers))
    return json_response({"assigned": numbers})


async def release_number(request: web.Request) -> web.Response:
    world, req = request.app[WORLD], await decode(request, ReleaseRequest)
    state, owner = world.state, world.state.assignments.get(req.number)
    if owner == req.account_ref:
        del state.assignments[req.number]
        state.released[req.number] = req.account_ref
        world.changed()
        log.info("number_released", account_ref=req.account_ref, number=req.number)
    elif owner is not None or state.released.get(req.number) != req.account_ref:
        raise ApiError(404, "not_assigned")  # a repeated release by the last owner is still a 200
    return json_response({"released": True})


async def send_message(request: web.Request) -> web.Response:
    world, msg = request.app[WORLD], await decode(request, MessageRequest)
    refs = world.state.references
    if msg.reference and msg.reference in refs:
        return json_response({"carrier_message_id": refs[msg.reference], "reference": msg.reference}, 202)
    if msg.from_ not in world.state.assignments:
        raise ApiError(400, "unknown_sender")
    check_e164(msg.to, "to")
    handset = world.handsets.get(msg.to, Handset())
    if handset.outcome == "rejected":
        raise ApiError(400, "rejected", code="carrier_filtered")
    cid = f"sim-{uuid.uuid4()}"
    if msg.reference:
        refs[msg.reference] = cid
        world.changed()
    world.submit_mt(cid, msg, handset)
    log.info("mt_accepted", carrier_message_id=cid, reference=msg.reference, outcome=handset.outcome)
    return json_response({"carrier_message_id": cid, "reference": msg.reference}, 202)


async def create_brand(request: web.Request) -> web.Response:
    world, brand = request.app[WORLD], await decode(request, dict[str, Any])
    ein = re.sub(r"[\s-]", "", str(brand.get("ein") or ""))
    if str(brand.get("entity_type", "")).upper() == "SOLE_PROPRIETOR":
        status, score = "SELF_DECLARED", 0
    elif not re.fullmatch(r"\d{9}", ein) or set(ein) == {"0"}:
        status, score = "UNVERIFIED", 0
    else:
        status, score = "VERIFIED", vetting_score(ein)
    ref = f"simb-{uuid.uuid4()}"
    world.state.brands[ref] = status
    world.changed()
    log.info("brand_registered", brand_ref=ref, identity_status=status, vetting_score=score)
    return json_response({"brand_ref": ref, "identity_status": status, "vetting_score": score})


async def submit_campaign(request: web.Request) -> web.Response:
    world, req = request.app[WORLD], await decode(request, CampaignRequest)
    ref = req.campaign_ref or f"simc-{uuid.uuid4()}"
    world.submit_review(req, ref)
    log.info(
        "campaign_submitted", campaign_ref=ref, use_case=req.use_case, resubmission=bool(req.campaign_ref)
    )
    return json_response({"campaign_ref": ref}, 202)


# -- simulator controls --------------------------------------------------------------------------
async def handset_texts(request: web.Request) -> web.Response:
    world, msg = request.app[WORLD], await decode(request, MessageRequest)
    [cid] = _handsets_text(world, [msg])
    return json_response({"carrier_message_id": cid}, 202)


MAX_TEXTS_AT_ONCE = 1000
"""Texts one ``POST /sim/messages/batch`` takes."""


async def handset_texts_batch(request: web.Request) -> web.Response:
    """Many handsets' texts in one request, in order (a load generator's, so that it and the simulator spend
    a request on many texts, not one each): all checked before any is sent, then each as alone."""
    world, req = request.app[WORLD], await decode(request, MessageBatch)
    if not 0 < len(req.messages) <= MAX_TEXTS_AT_ONCE:
        raise ApiError(400, "invalid_request", field="messages", detail=f"1 to {MAX_TEXTS_AT_ONCE} texts")
    return json_response({"carrier_message_ids": _handsets_text(world, req.messages)}, 202)


def _handsets_text(world: World, msgs: list[MessageRequest]) -> list[str]:
    """Handsets' texts to our numbers, after checking them all: their carrier message ids."""
    senders = [check_sender(msg.from_, "from") for msg in msgs]
    for msg in msgs:
        check_e164(msg.to, "to")
    mos = [{"carrier_message_id": f"sim-{uuid.uuid4()}", "from": sender, "to": msg.to, "text": msg.text,
            "received_at": now_rfc3339()} for sender, msg in zip(senders, msgs, strict=True)]
    world.enqueue("mo", *mos)  # (in order: over SMPP, or one callback after another)
    for mo in mos:
        log.info("mo_received", carrier_message_id=mo["carrier_message_id"], assigned=mo["to"] in world.state.assignments)
    return [mo["carrier_message_id"] for mo in mos]


async def handset_inbox(request: web.Request) -> web.Response:
    return json_response({"data": request.app[WORLD].inboxes.get(path_number(request), [])})


async def set_handset(request: web.Request) -> web.Response:
    world, number = request.app[WORLD], path_number(request)
    handset = world.handsets[number] = await decode(request, Handset)
    return json_response({"e164": number, **msgspec.structs.asdict(handset)})


async def number_status(request: web.Request) -> web.Response:
    number = path_number(request)
    owner = request.app[WORLD].state.assignments.get(number)
    return json_response({"e164": number, "assigned": owner is not None, "account_ref": owner})


async def get_config(request: web.Request) -> web.Response:
    return json_response(request.app[WORLD].effective_config())


async def put_config(request: web.Request) -> web.Response:
    world, patch = request.app[WORLD], await decode(request, ConfigPatch)
    faults = patch.faults
    if faults is not None and faults.timeout_fraction + faults.error_fraction + faults.slow_fraction > 1:
        raise ApiError(400, "invalid_config", field="faults", detail="fractions must sum to at most 1")
    if patch.receipt_delay_ms is not None:
        world.receipt_delay_ms = patch.receipt_delay_ms
    if patch.review_delay_ms is not None:
        world.review_delay_ms = patch.review_delay_ms
    if faults is not None:
        world.faults = faults
    log.info("sim_config_changed", **world.effective_config())
    return json_response(world.effective_config())


async def reset(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    world.handsets.clear()
    world.inboxes.clear()
    world.faults = Faults()
    world.rng.seed(world.cfg.seed)
    log.info("sim_reset")
    return json_response({"reset": True})


# -- app -----------------------------------------------------------------------------------------
@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer auth and fault injection on /carrier/v1; JSON bodies for every error."""
    world = request.app[WORLD]
    try:
        if request.path.startswith("/carrier/v1/") and request.path != "/carrier/v1/healthz":
            expected = f"Bearer {world.cfg.api_token}".encode()
            if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
                raise ApiError(401, "unauthorized")
            fault = await world.fault()
            if fault == "timeout":
                return json_response({"error": "timeout"}, 504)
            if fault == "error":
                return json_response({"error": "service_unavailable"}, 503)
        return await handler(request)
    except ApiError as exc:
        return json_response(exc.body, exc.status)
    except web.HTTPNotFound:
        return json_response({"error": "not_found"}, 404)
    except web.HTTPMethodNotAllowed:
        return json_response({"error": "method_not_allowed"}, 405)


def make_app(cfg: SimConfig) -> web.Application:
    """Build the simulator app; its world is loaded from cfg.state_file when one is set."""
    world = World(cfg)
    app = web.Application(middlewares=[api_middleware])
    app[WORLD] = world

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        world.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT_S))
        if cfg.smpp_port:
            world.smsc = Smsc(world, cfg.smpp_system_id, cfg.smpp_password, cfg.smpp_window)
            await world.smsc.start(cfg.host, cfg.smpp_port)
        world.resume()
        log.info("sim_world_ready", assigned=len(world.state.assignments), state_file=cfg.state_file)
        yield
        if world.smsc is not None:
            await world.smsc.close()
        await world.close()

    app.cleanup_ctx.append(lifecycle)
    carrier = "/carrier/v1"
    app.router.add_get(f"{carrier}/healthz", healthz)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", healthz)  # nothing to wait for: the world is in memory once started
    app.router.add_get("/metrics", metrics)
    app.router.add_get(f"{carrier}/available-numbers", available_numbers)
    app.router.add_post(f"{carrier}/numbers/assign", assign_numbers)
    app.router.add_post(f"{carrier}/numbers/release", release_number)
    app.router.add_post(f"{carrier}/messages", send_message)
    app.router.add_post(f"{carrier}/brands", create_brand)
    app.router.add_post(f"{carrier}/campaigns", submit_campaign)
    app.router.add_post("/sim/messages", handset_texts)
    app.router.add_post("/sim/messages/batch", handset_texts_batch)
    app.router.add_get("/sim/handsets/{e164}/messages", handset_inbox)
    app.router.add_put("/sim/handsets/{e164}", set_handset)
    app.router.add_get("/sim/numbers/{e164}", number_status)
    app.router.add_get("/sim/config", get_config)
    app.router.add_put("/sim/config", put_config)
    app.router.add_post("/sim/reset", reset)
    return app
