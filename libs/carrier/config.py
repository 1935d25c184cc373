"""Carrier settings shared by the services that talk to the carrier."""

from __future__ import annotations

from libs.obs.settings import CommonSettings


class CarrierSettings(CommonSettings, frozen=True, kw_only=True):
    sim_url: str = "http://127.0.0.1:8090"
    """Base URL of the carrier API (the simulator under `make run`)."""
    sim_api_token: str = "sim-dev-token"
    """Bearer token for the carrier API."""
    sim_callback_secret: str = "sim-dev-callback-secret"
    """Shared secret that signs the carrier's callbacks to us (X-Sim-Signature)."""
