"""An organization's policy from its settings row: built once per distinct settings, never stale."""

from __future__ import annotations

from typing import Any

from services.compliance.config import ComplianceSettings, policy_defaults
from services.compliance.frequency import Cap
from services.compliance.model import Policy
from services.compliance.policies import policy_of


def _row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "quiet_hours_enabled": True, "quiet_hours_action": "defer", "conversation_window_enabled": False,
        "conversation_window_hours": 24, "double_opt_in_expiry_hours": 24, "help_reply": None,
        "opt_out_reply": None, "opt_in_reply": None, "frequency_caps": "[]", "frequency_cap_action": "reject",
        "version": 3, "consent_id": "other columns of the gate's read do not matter"}
    return {**row, **changes}


def test_the_same_settings_share_one_policy_and_a_change_makes_another() -> None:
    defaults = policy_defaults(ComplianceSettings())
    # given: a policy read from an organization's settings
    first = policy_of(_row(), defaults)
    assert first == Policy()
    # when: the same settings come back with another contact's columns: the same (immutable) policy
    assert policy_of(_row(version=9, consent_id=None), defaults) is first
    # when: the caps change, or any other setting: a new policy that says so
    capped = policy_of(_row(frequency_caps='[{"category":"marketing","max":2,"window_hours":24}]'), defaults)
    assert capped.frequency_caps == (Cap("marketing", 2, 24),)
    assert policy_of(_row(quiet_hours_action="reject"), defaults).quiet_hours_action == "reject"
    assert policy_of(_row(help_reply="help!"), defaults).help_reply == "help!"
    assert policy_of(_row(), defaults) is first
    # an organization without settings has the defaults
    assert policy_of(None, defaults) is defaults
    assert policy_of(_row(quiet_hours_enabled=None), defaults) is defaults
