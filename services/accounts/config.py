"""Settings of the accounts service."""

from __future__ import annotations

from libs.obs.settings import CommonSettings


class AccountsSettings(CommonSettings, frozen=True, kw_only=True):
    signup_credit_micros: int = 5_000_000
    """Credit every new organization starts with ($5.00)."""
    key_touch_interval_s: int = 60
    """last_used_at is written at most this often per key."""
