"""Carrier simulator configuration: the settings and how they are read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

from libs.obs.settings import load_settings

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=86_400_000)]
Text = Annotated[str, msgspec.Meta(min_length=1)]
"""Set means not empty."""
Url = Annotated[str, msgspec.Meta(pattern=r"^(?:https?://|$)")]
"""An http(s) URL, or empty."""
Dollars = Annotated[str, msgspec.Meta(pattern=r"^\d{1,6}(?:\.\d{1,4})?$")]


class SimConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Settings of one carrier simulator process."""

    host: Text = "127.0.0.1"
    """Interface to listen on (AM_SIM_HOST)."""

    port: Port = 8090
    """TCP port to listen on (AM_SIM_PORT)."""

    api_token: Text = "sim-dev-token"
    """Bearer token the /carrier/v1 API requires (AM_SIM_API_TOKEN)."""

    callback_secret: Text = "sim-dev-callback-secret"
    """HMAC-SHA256 key signing every callback (AM_SIM_CALLBACK_SECRET)."""

    mo_callback_url: Url = ""
    """Where inbound (MO) messages are POSTed; empty = not sent (AM_SIM_MO_CALLBACK_URL)."""

    dlr_callback_url: Url = ""
    """Where delivery receipts are POSTed; empty = not sent (AM_SIM_DLR_CALLBACK_URL)."""

    campaign_callback_url: Url = ""
    """Where campaign review decisions are POSTed; empty = not sent (AM_SIM_CAMPAIGN_CALLBACK_URL)."""

    receipt_delay_ms: Millis = 300
    """Delay between accepting an MT message and its delivery and receipt (AM_SIM_RECEIPT_DELAY_MS)."""

    review_delay_ms: Millis = 2000
    """Delay between a campaign submission and its review decision (AM_SIM_REVIEW_DELAY_MS)."""

    state_file: str = ""
    """JSON file keeping assignments and idempotency across restarts; empty = memory only
    (AM_SIM_STATE_FILE)."""

    number_price: Dollars = "1.15"
    """Monthly price of a number in dollars, as a decimal string (AM_SIM_NUMBER_MONTHLY_PRICE)."""

    seed: int = 0
    """Seed of the random generator that decides injected faults (AM_SIM_SEED)."""

    smpp_port: Port = 0
    """TCP port of the simulator's SMSC (SMPP 3.4); 0 = no SMSC (AM_SIM_SMPP_PORT)."""

    smpp_system_id: Text = "agentmsg"
    """The system_id an ESME must bind with (AM_SIM_SMPP_SYSTEM_ID)."""

    smpp_password: Text = "simpass1"
    """The password an ESME must bind with, at most 8 characters (AM_SIM_SMPP_PASSWORD)."""

    smpp_window: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 100
    """deliver_sm (receipts, handsets' texts) awaiting their response at once, as an SMSC's window
    (AM_SIM_SMPP_WINDOW): more wait in its queue, so a slow ESME is not sent everything at once and
    then everything again when the answers come late."""

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """debug | info | warning | error (AM_LOG_LEVEL, shared by every service)."""


_NAMES = {"number_price": "AM_SIM_NUMBER_MONTHLY_PRICE", "log_level": "AM_LOG_LEVEL"}
_NOT_EMPTY = {f"AM_SIM_{f.name.upper()}" for f in msgspec.structs.fields(SimConfig) if f.type == Text}
"""The variables whose empty value is an error; any other empty one means its default."""


def load_sim_config(env: Mapping[str, str]) -> SimConfig:
    """Build a SimConfig from AM_SIM_* variables (and AM_LOG_LEVEL), trimmed; a bad value raises
    ValueError naming it."""
    given = {var: value.strip() for var, value in env.items()}
    given = {var: value.lower() if var == "AM_LOG_LEVEL" else value for var, value in given.items()
             if value or var in _NOT_EMPTY}
    return load_settings(SimConfig, given, prefix="AM_SIM_", names=_NAMES)
