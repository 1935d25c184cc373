"""The signed webhook sender: every POST we make to a customer's URL — inbound messages
(``services/inbound``), message status callbacks (``services/outbound``) and campaign status callbacks
(``services/numbers``) — goes through :class:`WebhookSender`, so they share one signature, one URL
rule, one retry schedule and one log line.

- **Signing**: ``X-AmCore-Signature`` (:mod:`libs.webhooks.signing`), one ``v1=`` per active secret; the
  delivery's stable id as ``X-AmCore-Event-Id`` (receivers dedupe on it).
- **URL guard**: :mod:`libs.webhooks.urls` again at every attempt — resolved once, every address checked,
  connected to exactly those addresses, never a redirect.
- **Retry schedule**: :class:`libs.backoff.RetryPolicy` (exponential, capped, equal jitter; a window or a
  number of tries); :meth:`WebhookSender.verdict` turns an attempt into delivered / retrying (after how
  long) / failed (the dead letter).
- **Delivery log**: one ``webhook_attempted`` line per attempt with the same fields everywhere (``kind``
  names the caller); each service keeps its durable record of attempts beside its queue.

The queue the deliveries wait in is :mod:`libs.workqueue`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import aiohttp
import structlog

from libs.backoff import RetryPolicy
from libs.webhooks import urls
from libs.webhooks.signing import HEADER, sign
from proto.base import utcnow

log = structlog.get_logger(__name__)

EVENT_ID_HEADER = "X-AmCore-Event-Id"

Outcome = Literal["delivered", "retrying", "failed"]


@dataclass(frozen=True)
class Attempt:
    """What one POST came to."""

    url: str
    attempted_at: datetime
    status: int | None
    """The receiver's HTTP status; None when it was not reached."""
    error: str | None
    """Why it failed (``HTTP 500`` when the receiver answered non-2xx); None on success."""
    latency_ms: int
    refused: bool = False
    """The URL broke the rule at this attempt: nothing was sent."""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    delay_s: float | None = None
    """With ``retrying``: seconds until the next attempt."""


@dataclass
class WebhookSender:
    kind: str
    """Names the caller in the log (``inbound``, ``message_status``, ``campaign_status``)."""
    env: str
    """``AM_ENV``: in dev and test the URL rule allows a loopback receiver."""
    timeout_s: float
    """A receiver must answer within this."""
    policy: RetryPolicy
    user_agent: str = "AgentMessage-Webhooks/1"
    limit: int = 100
    """Connections open at once."""
    _session: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)

    def session(self) -> aiohttp.ClientSession:
        """The pinned-resolver session of the URL rule (made on first use, inside the running loop)."""
        if self._session is None or self._session.closed:
            self._session = urls.new_session(self.env, self.timeout_s, limit=self.limit,
                                             headers={"User-Agent": self.user_agent})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, body: bytes, secrets: Sequence[str], event_id: str,
                   headers: Mapping[str, str] | None = None) -> Attempt:
        """POST ``body`` to ``url`` signed with ``secrets`` (none: unsigned), under the URL rule."""
        sent = {"Content-Type": "application/json", EVENT_ID_HEADER: event_id, **(headers or {})}
        if secrets:
            sent[HEADER] = sign(secrets, body)
        attempted_at = utcnow()
        started = time.perf_counter()
        out = await urls.post(self.session(), url, body, sent, self.env, self.timeout_s)
        latency_ms = int((time.perf_counter() - started) * 1000)
        error = out.error if out.error is not None or out.ok else f"HTTP {out.status}"
        return Attempt(url, attempted_at, out.status, error, latency_ms, out.refused)

    def verdict(self, attempt: Attempt, failures: int, elapsed_s: float, rand: float, *,
                final_on_refusal: bool = True) -> Verdict:
        """Delivered, or retried after a :class:`RetryPolicy` delay, or failed (the dead letter): when the
        policy gives up (``failures`` counts this attempt; ``elapsed_s`` from queueing) or — unless the
        URL may change before the next attempt (``final_on_refusal=False``) — when the URL was refused."""
        if attempt.ok:
            return Verdict("delivered")
        if attempt.refused and final_on_refusal:
            return Verdict("failed")
        delay = self.policy.next_delay(elapsed_s, failures, rand)
        return Verdict("failed") if delay is None else Verdict("retrying", delay)

    def logged(self, delivery_id: str, attempt_no: int, attempt: Attempt, outcome: Outcome | None,
               **fields: Any) -> None:
        """The delivery log's one line per attempt (``outcome`` None: history only, e.g. a redelivery
        restarted it meanwhile)."""
        log.info("webhook_attempted", kind=self.kind, delivery_id=delivery_id, attempt=attempt_no,
                 outcome=outcome, status=attempt.status, latency_ms=attempt.latency_ms, error=attempt.error,
                 **fields)
