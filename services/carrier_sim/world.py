"""The simulated carrier world: its state, persistence, and background callback delivery."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import random
import time
import uuid
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import aiohttp
import msgspec
import structlog

from libs.backoff import backoff

from .config import SimConfig
from .review import CampaignRequest, review_campaign

log = structlog.get_logger("carrier_sim")

Fraction = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=86_400_000)]

RETRY_FIRST_S: Final = 0.2
RETRY_CAP_S: Final = 5.0
RETRY_WINDOW_S: Final = 600.0
CALLBACK_TIMEOUT_S: Final = 10.0
SAVE_DEBOUNCE_S: Final = 0.05
FINAL_RECEIPTS: Final = {
    "delivered": ("DELIVRD", None),
    "no_receipt": ("DELIVRD", None),
    "undelivered": ("UNDELIV", "unreachable_handset"),
    "expired": ("EXPIRED", "validity_period_expired"),
}


class Faults(msgspec.Struct, kw_only=True):
    """Fractions of /carrier/v1 calls that time out, fail with 503, or answer slowly."""

    timeout_fraction: Fraction = 0.0
    error_fraction: Fraction = 0.0
    slow_fraction: Fraction = 0.0
    slow_ms: Millis = 0


class Handset(msgspec.Struct, kw_only=True):
    """Per-handset override of what happens to MT messages sent to it."""

    outcome: Literal["delivered", "undelivered", "rejected", "no_receipt", "expired"] = "delivered"
    duplicate_receipts: bool = False
    out_of_order: bool = False


class MessageRequest(msgspec.Struct, kw_only=True):
    from_: str = msgspec.field(name="from")
    to: str
    text: str
    reference: str | None = None
    via: str = "http"
    """http | smpp: how it came, so its receipts go back the same way."""
    parts: list[str] = []
    """The SMSC's id of each part (smpp)."""


class MessageBatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    messages: list[MessageRequest]


class PendingMessage(msgspec.Struct, kw_only=True):
    """An accepted MT message whose delivery and receipts are not finished yet."""

    message: MessageRequest
    handset: Handset
    accepted_at: str


class Outgoing(msgspec.Struct, kw_only=True):
    """Callbacks of one kind, POSTed in order, each until a 2xx (or the retry window ends)."""

    kind: Literal["mo", "dlr", "campaign"]
    payloads: list[dict[str, Any]]


class State(msgspec.Struct, kw_only=True):
    """What survives a restart when a state file is configured."""

    version: int = 1
    assignments: dict[str, str] = {}
    """e164 -> account_ref of every assigned number."""
    released: dict[str, str] = {}
    """e164 -> account_ref that last released it, so a repeated release still answers 200."""
    references: dict[str, str] = {}
    """MT reference -> carrier_message_id: a repeated submission is neither re-sent nor re-billed."""
    campaigns: dict[str, str] = {}
    """campaign_ref -> pending | approved | rejected."""
    pending_messages: dict[str, PendingMessage] = {}
    """carrier_message_id -> accepted MT not yet fully delivered; replayed on start."""
    pending_reviews: dict[str, CampaignRequest] = {}
    """Submissions still under review; re-scheduled on start so a restart loses no decision."""
    brands: dict[str, str] = {}
    """brand_ref -> identity status."""
    outbox: dict[str, Outgoing] = {}
    """Callbacks not yet acknowledged; resumed on start, so they are sent at least once."""


def now_rfc3339() -> str:
    """Current UTC time as RFC 3339 with milliseconds and a Z suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Sim-Signature header value for a callback body."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class World:
    """The simulated carrier: number assignments, handsets, campaigns and pending callbacks."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.state = self._load()
        self.receipt_delay_ms = cfg.receipt_delay_ms
        self.review_delay_ms = cfg.review_delay_ms
        self.timeout_hold_s = 30.0
        self.faults = Faults()
        self.rng = random.Random(cfg.seed)
        self.handsets: dict[str, Handset] = {}
        self.inboxes: dict[str, list[dict[str, str]]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.reviews: dict[str, asyncio.Task[None]] = {}
        self.session: aiohttp.ClientSession | None = None
        self._save_task: asyncio.Task[None] | None = None
        self._dirty = False
        self.smsc: Any = None
        """The SMSC (services/carrier_sim/smsc.py) when AM_SIM_SMPP_PORT is set: texts from handsets and
        receipts of SMPP submissions go over it."""

    # -- persistence -------------------------------------------------------------------------
    def _load(self) -> State:
        path = self.cfg.state_file
        if not path or not os.path.exists(path):
            return State()
        try:
            return msgspec.json.decode(Path(path).read_bytes(), type=State)
        except (OSError, msgspec.DecodeError) as exc:
            raise ValueError(f"AM_SIM_STATE_FILE {path!r} is unreadable: {exc}") from exc

    def changed(self) -> None:
        """Note a change of persisted state; one saver task writes it soon, off the event loop."""
        self._dirty = True
        if self.cfg.state_file and (self._save_task is None or self._save_task.done()):
            self._save_task = asyncio.get_running_loop().create_task(self._saver())

    async def _saver(self) -> None:
        while self._dirty:
            await asyncio.sleep(SAVE_DEBOUNCE_S)
            self._dirty = False
            try:
                await asyncio.to_thread(self._write, msgspec.json.encode(self.state))
            except OSError as exc:
                log.error("state_save_failed", path=self.cfg.state_file, error=str(exc))

    def _write(self, data: bytes) -> None:
        """Write the state file atomically: a temporary file, fsync, then os.replace."""
        path = Path(self.cfg.state_file)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        log.debug("state_saved", path=str(path))

    # -- background work ---------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background_task_failed", error=repr(task.exception()))

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self._save_task is not None:
            await self._save_task  # let the last write finish rather than race it
        if self.session is not None:
            await self.session.close()

    async def post_callback(self, kind: str, url: str, payload: Mapping[str, object]) -> None:
        """POST a signed callback, retrying with capped backoff until a 2xx or the window ends."""
        if not url:
            log.info("callback_skipped", kind=kind, reason="no_url")
            return
        assert self.session is not None
        body = msgspec.json.encode(payload)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETRY_WINDOW_S
        attempt = 0
        while True:
            attempt += 1
            headers = {
                "Content-Type": "application/json",
                "X-Sim-Signature": sign(self.cfg.callback_secret, int(time.time()), body),
            }
            try:
                async with self.session.post(url, data=body, headers=headers) as resp:
                    outcome = str(resp.status)
                    if 200 <= resp.status < 300:
                        log.info("callback_delivered", kind=kind, url=url, attempt=attempt)
                        return
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome = type(exc).__name__
            delay = backoff(attempt, RETRY_FIRST_S, RETRY_CAP_S)
            if loop.time() + delay > deadline:
                log.warning("callback_abandoned", kind=kind, url=url, attempt=attempt, outcome=outcome)
                return
            log.info("callback_retry", kind=kind, url=url, attempt=attempt, outcome=outcome, delay_s=delay)
            await asyncio.sleep(delay)

    async def fault(self) -> Literal["timeout", "error"] | None:
        """Draw an injected fault for a carrier API call (sleeping as it says); None = answer."""
        f = self.faults
        if not (f.timeout_fraction or f.error_fraction or f.slow_fraction):
            return None
        draw = self.rng.random()
        if draw < f.timeout_fraction:
            await asyncio.sleep(self.timeout_hold_s)
            return "timeout"
        if draw < f.timeout_fraction + f.error_fraction:
            return "error"
        if draw < f.timeout_fraction + f.error_fraction + f.slow_fraction:
            await asyncio.sleep(f.slow_ms / 1000)
        return None

    # -- delivery ----------------------------------------------------------------------------
    def resume(self) -> None:
        """Restart the work a previous run left unfinished (persisted state only)."""
        for cid, pending in self.state.pending_messages.items():
            self.spawn(self.deliver_mt(cid, pending, self.receipt_delay_ms))
        for ref, req in list(self.state.pending_reviews.items()):
            self.submit_review(req, ref)
        for key in self.state.outbox:
            self.spawn(self._flush(key))

    def enqueue(self, kind: Literal["mo", "dlr", "campaign"], *payloads: dict[str, Any]) -> None:
        """Record callbacks in the outbox and send them in the background."""
        if kind == "mo" and self.smsc is not None:
            for p in payloads:
                self.smsc.deliver_mo(p)
            return
        key = uuid.uuid4().hex
        self.state.outbox[key] = Outgoing(kind=kind, payloads=list(payloads))
        self.changed()
        self.spawn(self._flush(key))

    async def _flush(self, key: str) -> None:
        item = self.state.outbox[key]
        url = {"mo": self.cfg.mo_callback_url, "dlr": self.cfg.dlr_callback_url}.get(
            item.kind, self.cfg.campaign_callback_url
        )
        for payload in item.payloads:
            await self.post_callback(item.kind, url, payload)
        del self.state.outbox[key]
        self.changed()

    def submit_mt(self, cid: str, msg: MessageRequest, handset: Handset) -> None:
        """Accept an MT message: it is delivered (and receipted) after the receipt delay."""
        pending = PendingMessage(message=msg, handset=handset, accepted_at=now_rfc3339())
        self.state.pending_messages[cid] = pending
        self.changed()
        self.spawn(self.deliver_mt(cid, pending, self.receipt_delay_ms))

    async def deliver_mt(self, cid: str, pending: PendingMessage, delay_ms: int) -> None:
        await asyncio.sleep(delay_ms / 1000)
        msg, handset = pending.message, pending.handset
        status, error_code = FINAL_RECEIPTS[handset.outcome]
        occurred_at = now_rfc3339()
        if status == "DELIVRD":
            entry = {"from": msg.from_, "to": msg.to, "text": msg.text, "received_at": occurred_at}
            self.inboxes.setdefault(msg.to, []).append({**entry, "carrier_message_id": cid})
            if msg.to in self.state.assignments:
                self.enqueue("mo", {**entry, "carrier_message_id": f"sim-{uuid.uuid4()}"})
        if handset.outcome != "no_receipt" and msg.via == "smpp" and self.smsc is not None:
            self.smsc.receipts(msg, status, error_code, pending.accepted_at, 2 if handset.duplicate_receipts else 1)
        elif handset.outcome != "no_receipt":
            dlr = {
                "carrier_message_id": cid,
                "reference": msg.reference,
                "status": status,
                "error_code": error_code,
                "occurred_at": occurred_at,
            }
            receipts = [dlr, dlr] if handset.duplicate_receipts else [dlr]
            if handset.out_of_order:
                accepted = {
                    **dlr,
                    "status": "ACCEPTD",
                    "error_code": None,
                    "occurred_at": pending.accepted_at,
                }
                receipts.append(accepted)
            self.enqueue("dlr", *receipts)
        del self.state.pending_messages[cid]
        self.changed()

    async def review(self, req: CampaignRequest, ref: str, delay_ms: int) -> None:
        await asyncio.sleep(delay_ms / 1000)
        reasons = review_campaign(req)
        status = "rejected" if reasons else "approved"
        self.state.campaigns[ref] = status
        del self.state.pending_reviews[ref]
        del self.reviews[ref]
        log.info("campaign_reviewed", campaign_ref=ref, status=status, reasons=[r.code for r in reasons])
        decision = {
            "campaign_ref": ref,
            "status": status,
            "rejection_reasons": [msgspec.structs.asdict(r) for r in reasons],
            "reviewed_at": now_rfc3339(),
        }
        self.enqueue("campaign", decision)

    def submit_review(self, req: CampaignRequest, ref: str) -> None:
        """Start (or restart, superseding a pending one) the review of a campaign."""
        self.state.campaigns[ref] = "pending"
        self.state.pending_reviews[ref] = req
        self.changed()
        previous = self.reviews.pop(ref, None)
        if previous is not None:
            previous.cancel()
        self.reviews[ref] = self.spawn(self.review(req, ref, self.review_delay_ms))

    def effective_config(self) -> dict[str, object]:
        return {
            "receipt_delay_ms": self.receipt_delay_ms,
            "review_delay_ms": self.review_delay_ms,
            "faults": self.faults,
        }
