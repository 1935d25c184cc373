"""Carrier simulator configuration: the settings and how they are read from the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

_PRICE = re.compile(r"\d{1,6}(\.\d{1,4})?")
_LEVELS = ("debug", "info", "warning", "error")


class SimConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Settings of one carrier simulator process."""

    host: str = "127.0.0.1"
    """Interface to listen on (AM_SIM_HOST)."""

    port: int = 8090
    """TCP port to listen on (AM_SIM_PORT)."""

    api_token: str = "sim-dev-token"
    """Bearer token the /carrier/v1 API requires (AM_SIM_API_TOKEN)."""

    callback_secret: str = "sim-dev-callback-secret"
    """HMAC-SHA256 key signing every callback (AM_SIM_CALLBACK_SECRET)."""

    mo_callback_url: str = ""
    """Where inbound (MO) messages are POSTed; empty = not sent (AM_SIM_MO_CALLBACK_URL)."""

    dlr_callback_url: str = ""
    """Where delivery receipts are POSTed; empty = not sent (AM_SIM_DLR_CALLBACK_URL)."""

    campaign_callback_url: str = ""
    """Where campaign review decisions are POSTed; empty = not sent (AM_SIM_CAMPAIGN_CALLBACK_URL)."""

    receipt_delay_ms: int = 300
    """Delay between accepting an MT message and its delivery and receipt (AM_SIM_RECEIPT_DELAY_MS)."""

    review_delay_ms: int = 2000
    """Delay between a campaign submission and its review decision (AM_SIM_REVIEW_DELAY_MS)."""

    state_file: str = ""
    """JSON file keeping assignments and idempotency across restarts; empty = memory only
    (AM_SIM_STATE_FILE)."""

    number_price: str = "1.15"
    """Monthly price of a number in dollars, as a decimal string (AM_SIM_NUMBER_MONTHLY_PRICE)."""

    seed: int = 0
    """Seed of the random generator that decides injected faults (AM_SIM_SEED)."""

    smpp_port: int = 0
    """TCP port of the simulator's SMSC (SMPP 3.4); 0 = no SMSC (AM_SIM_SMPP_PORT)."""

    smpp_system_id: str = "agentmsg"
    """The system_id an ESME must bind with (AM_SIM_SMPP_SYSTEM_ID)."""

    smpp_password: str = "simpass1"
    """The password an ESME must bind with, at most 8 characters (AM_SIM_SMPP_PASSWORD)."""

    smpp_window: int = 100
    """deliver_sm (receipts, handsets' texts) awaiting their response at once, as an SMSC's window
    (AM_SIM_SMPP_WINDOW): more wait in its queue, so a slow ESME is not sent everything at once and
    then everything again when the answers come late."""

    log_level: str = "info"
    """debug | info | warning | error (AM_LOG_LEVEL, shared by every service)."""


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip()
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def _url(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if value and not value.startswith(("http://", "https://")):
        raise ValueError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def load_sim_config(env: Mapping[str, str]) -> SimConfig:
    """Build a SimConfig from AM_SIM_* variables; a bad value raises ValueError naming it."""
    price = env.get("AM_SIM_NUMBER_MONTHLY_PRICE", "").strip() or "1.15"
    if not _PRICE.fullmatch(price):
        raise ValueError(f"AM_SIM_NUMBER_MONTHLY_PRICE must be a dollar amount like 1.15, got {price!r}")
    level = env.get("AM_LOG_LEVEL", "").strip().lower() or "info"
    if level not in _LEVELS:
        raise ValueError(f"AM_LOG_LEVEL must be one of {', '.join(_LEVELS)}, got {level!r}")
    day_ms = 86_400_000
    return SimConfig(
        host=_text(env, "AM_SIM_HOST", "127.0.0.1"),
        port=_int(env, "AM_SIM_PORT", 8090, 0, 65535),
        api_token=_text(env, "AM_SIM_API_TOKEN", "sim-dev-token"),
        callback_secret=_text(env, "AM_SIM_CALLBACK_SECRET", "sim-dev-callback-secret"),
        mo_callback_url=_url(env, "AM_SIM_MO_CALLBACK_URL"),
        dlr_callback_url=_url(env, "AM_SIM_DLR_CALLBACK_URL"),
        campaign_callback_url=_url(env, "AM_SIM_CAMPAIGN_CALLBACK_URL"),
        receipt_delay_ms=_int(env, "AM_SIM_RECEIPT_DELAY_MS", 300, 0, day_ms),
        review_delay_ms=_int(env, "AM_SIM_REVIEW_DELAY_MS", 2000, 0, day_ms),
        state_file=env.get("AM_SIM_STATE_FILE", "").strip(),
        number_price=price,
        seed=_int(env, "AM_SIM_SEED", 0, -(2**63), 2**63 - 1),
        smpp_port=_int(env, "AM_SIM_SMPP_PORT", 0, 0, 65535),
        smpp_system_id=_text(env, "AM_SIM_SMPP_SYSTEM_ID", "agentmsg"),
        smpp_password=_text(env, "AM_SIM_SMPP_PASSWORD", "simpass1"),
        smpp_window=_int(env, "AM_SIM_SMPP_WINDOW", 100, 1, 100_000),
        log_level=level,
    )
