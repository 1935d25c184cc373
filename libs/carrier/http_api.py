"""The carrier adapter interface and its HTTP implementation against the simulator's carrier API."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Protocol

import aiohttp
import msgspec
import structlog
from aiohttp import web

from libs.obs.metrics import CARRIER_SUBMIT


class CarrierError(Exception):
    """The carrier refused (``transient`` False) or could not be reached (``transient`` True)."""

    def __init__(self, message: str, *, transient: bool, status: int = 0, body: Any = None, code: str = ""):
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.body = body
        self.code = code
        """Our error code for the message when the carrier service names one (SUBMISSION_UNCONFIRMED...)."""


class AvailableNumber(msgspec.Struct, kw_only=True):
    e164: str
    region: str = ""
    locality: str = ""
    capabilities: list[str] = msgspec.field(default_factory=lambda: ["sms"])
    monthly_price: str = "1.15"


class BrandResult(msgspec.Struct, kw_only=True):
    brand_ref: str
    identity_status: str
    vetting_score: int


class Submitter(Protocol):
    async def submit_message(self, from_: str, to: str, text: str, reference: str, org_id: str = "") -> str: ...


class Carrier(Protocol):
    async def available_numbers(self, area_code: str, quantity: int, contains: str | None = None) -> list[AvailableNumber]: ...
    async def assign_numbers(self, numbers: list[str], account_ref: str) -> list[str]: ...
    async def release_number(self, number: str, account_ref: str) -> None: ...
    async def submit_message(self, from_: str, to: str, text: str, reference: str, org_id: str = "") -> str: ...
    async def register_brand(self, brand: dict[str, Any]) -> BrandResult: ...
    async def submit_campaign(self, campaign: dict[str, Any]) -> str: ...


class HttpCarrier:
    """Adapter for an HTTP carrier API shaped like the simulator's (``/carrier/v1``)."""

    def __init__(self, base_url: str, token: str, timeout_s: float = 5.0):
        self.base = base_url.rstrip("/") + "/carrier/v1"
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, headers={"Authorization": f"Bearer {self.token}"},
                connector=aiohttp.TCPConnector(limit=200),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _req(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        try:
            async with self._http().request(method, self.base + path, **kw) as r:
                try:
                    body = await r.json(content_type=None)
                except Exception:
                    body = None
                if r.status >= 500 or r.status == 429:
                    raise CarrierError(f"carrier answered {r.status}", transient=True, status=r.status, body=body)
                return r.status, body
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CarrierError(f"carrier unreachable: {exc!r}", transient=True) from exc

    async def available_numbers(self, area_code: str, quantity: int, contains: str | None = None) -> list[AvailableNumber]:
        params = {"area_code": area_code, "quantity": str(quantity)}
        if contains:
            params["contains"] = contains
        status, body = await self._req("GET", "/available-numbers", params=params)
        if status != 200:
            raise CarrierError(str((body or {}).get("error", status)), transient=False, status=status, body=body)
        return msgspec.convert(body["numbers"], list[AvailableNumber])

    async def assign_numbers(self, numbers: list[str], account_ref: str) -> list[str]:
        status, body = await self._req("POST", "/numbers/assign", json={"numbers": numbers, "account_ref": account_ref})
        if status != 200:
            raise CarrierError("unavailable", transient=False, status=status, body=body)
        return list(body["assigned"])

    async def release_number(self, number: str, account_ref: str) -> None:
        status, body = await self._req("POST", "/numbers/release", json={"number": number, "account_ref": account_ref})
        if status not in (200, 404):
            raise CarrierError("release failed", transient=False, status=status, body=body)

    async def submit_message(self, from_: str, to: str, text: str, reference: str, org_id: str = "") -> str:
        """Idempotent on ``reference``: a retry after a crash never sends twice."""
        started = time.perf_counter()
        try:
            status, body = await self._req("POST", "/messages", json={"from": from_, "to": to, "text": text,
                                                                      "reference": reference})
        except Exception:
            CARRIER_SUBMIT.labels("error").observe(time.perf_counter() - started)
            raise
        CARRIER_SUBMIT.labels("accepted" if status in (200, 202) else "refused").observe(
            time.perf_counter() - started)
        if status not in (200, 202):
            raise CarrierError(str((body or {}).get("error", status)), transient=False, status=status, body=body)
        return str(body["carrier_message_id"])

    async def register_brand(self, brand: dict[str, Any]) -> BrandResult:
        status, body = await self._req("POST", "/brands", json=brand)
        if status != 200:
            raise CarrierError("brand registration failed", transient=False, status=status, body=body)
        return msgspec.convert(body, BrandResult)

    async def submit_campaign(self, campaign: dict[str, Any]) -> str:
        status, body = await self._req("POST", "/campaigns", json=campaign)
        if status not in (200, 202):
            raise CarrierError("campaign submission failed", transient=False, status=status, body=body)
        return str(body["campaign_ref"])


def verify_callback(secret: str, header: str | None, body: bytes, max_age_s: int = 300) -> bool:
    """Check ``X-Sim-Signature: t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>`` from the carrier."""
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t = parts.get("t", "")
    if not t.isdigit() or abs(time.time() - int(t)) > max_age_s:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, v) for k, v in
               (p.split("=", 1) for p in header.split(",") if "=" in p) if k == "v1")


async def signed_callback(request: web.Request, secret: str) -> bytes:
    """The body of a callback from the carrier, once its ``X-Sim-Signature`` checks out; otherwise a
    warning and 401 (raised, so the route answers it)."""
    raw = await request.read()
    if not verify_callback(secret, request.headers.get("X-Sim-Signature"), raw):
        structlog.get_logger(__name__).warning("carrier_callback_bad_signature", path=request.path)
        raise web.HTTPUnauthorized(text='{"error": "invalid signature"}', content_type="application/json")
    return raw
