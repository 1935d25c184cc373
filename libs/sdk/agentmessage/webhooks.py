"""Verifying the signature of an inbound webhook or a status callback (X-AmCore-Signature)."""

from __future__ import annotations

import hashlib
import hmac
import time


def verify_signature(secret: str, header: str, raw_body: bytes, tolerance_s: int = 300,
                     now: float | None = None) -> bool:
    """True when ``header`` (``t=<unix>,v1=<hex>[,v1=...]``) signs ``raw_body`` with ``secret`` and is at
    most ``tolerance_s`` old. ``raw_body`` is the request's bytes before any JSON parsing."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    t = next((v.strip() for k, v in parts if k.strip() == "t"), "")
    if not t.isdigit() or abs((time.time() if now is None else now) - int(t)) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return any(k.strip() == "v1" and hmac.compare_digest(v.strip(), expected) for k, v in parts)
