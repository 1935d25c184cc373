"""Settings of the compliance service (AM_<FIELD>); the per-organization policy defaults come from here."""

from __future__ import annotations

from typing import Literal

from libs.obs.settings import CommonSettings
from services.compliance import model


def policy_defaults(s: ComplianceSettings) -> model.Policy:
    return model.Policy(quiet_hours_enabled=s.quiet_hours_enabled, quiet_hours_action=s.quiet_hours_action,
                        conversation_window_enabled=s.conversation_window_enabled,
                        conversation_window_hours=s.conversation_window_hours,
                        double_opt_in_expiry_hours=s.double_opt_in_expiry_hours)


class ComplianceSettings(CommonSettings, frozen=True, kw_only=True):
    quiet_hours_enabled: bool = True
    """Default for organizations that have not changed it: quiet hours on."""
    quiet_hours_action: Literal["defer", "reject"] = "defer"
    """Default action outside the allowed hours: defer (scheduled) or reject (453 QUIET_HOURS)."""
    conversation_window_enabled: bool = False
    """Off by default: the public contract is that sends need consent on file (453 CONSENT_REQUIRED
    otherwise), even to a contact who texted first. An organization can switch it on
    (PATCH /v1/compliance/settings): then a reply within the window after the contact's last message
    needs no recorded consent."""
    conversation_window_hours: int = 24
    double_opt_in_expiry_hours: int = 24
    """Default time a contact has to answer a double opt-in (YES / Y / START)."""
    double_opt_in_per_hours: int = 24
    """At most one double opt-in per contact per this many hours (else 429 DOUBLE_OPT_IN_RATE_LIMITED)."""
    double_opt_in_wait_s: float = 3.0
    """How long POST /v1/consent/double-opt-in waits for outbound's word on its text (accepted, or refused:
    the request's error); after that it answers pending and the text still goes out on the event. Below
    the gateway's command timeout (5 s)."""
    sender_cache_s: float = 3.0
    """How long the gate reuses numbers' answer about a sending number (a few seconds, for throughput)."""
    gate_concurrency: int = 512
    """evaluate_send requests handled at once by one replica."""
    db_pool_max: int = 20
    """The gate's readers and decision writers (four each) and the relay hold up to ten connections at
    once under load: the rest is for everything else."""
    decision_batch: int = 200
    """At most this many send decisions per group-committed transaction (and gate reads per query)."""
    maintenance_interval_s: float = 5.0
    """How often pending double opt-ins are expired."""
