"""Pure rules of numbers and 10DLC (rules.py): no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from proto.base import CommandError
from proto.http.tendlc import CampaignBody, ResubmitBody
from services.numbers import rules


def field_of(exc: pytest.ExceptionInfo[CommandError]) -> str:
    assert exc.value.code == "VALIDATION_ERROR" and exc.value.status == 400
    return str(exc.value.details["field"])


@pytest.mark.parametrize("code", ["123", "023", "41", "4155", "abc", "911", "411", ""])
def test_bad_area_codes_are_refused(code: str) -> None:
    with pytest.raises(CommandError) as exc:
        rules.check_area_code(code)
    assert field_of(exc) == "area_code"


def test_good_area_code_passes() -> None:
    assert rules.check_area_code(" 415 ") == "415"


def test_order_numbers_normalises_dedupes_and_names_the_bad_one() -> None:
    assert rules.order_numbers(["+1 (415) 555-0123", "+14155550123", "4155550124"], 10) == [
        "+14155550123", "+14155550124"]
    with pytest.raises(CommandError) as exc:
        rules.order_numbers(["+14155550123", "nope"], 10)
    assert field_of(exc) == "numbers.1"
    with pytest.raises(CommandError) as exc:
        rules.order_numbers(["+442071838750"], 10)
    assert field_of(exc) == "numbers.0"
    with pytest.raises(CommandError):
        rules.order_numbers([f"+1415555010{i}" for i in range(3)], 2)


def test_secrets_and_grace_period() -> None:
    s = rules.new_webhook_secret()
    assert s.startswith("whsec_") and len(s) == 38 and s != rules.new_webhook_secret()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert rules.active_secrets("new", "old", now + timedelta(hours=1), now) == ["new", "old"]
    assert rules.active_secrets("new", "old", now - timedelta(seconds=1), now) == ["new"]
    assert rules.active_secrets(None, None, None, now) == []


@pytest.mark.parametrize(("score", "mpm", "cap"), [(100, 4500, 200_000), (75, 4500, 200_000), (74, 2400, 40_000),
                                                   (50, 2400, 40_000), (49, 240, 10_000), (25, 240, 10_000),
                                                   (24, 240, 2_000), (1, 240, 2_000), (0, 75, 2_000)])
def test_limits_follow_the_vetting_score(score: int, mpm: int, cap: int) -> None:
    assert rules.throughput_mpm(score) == mpm
    assert rules.daily_cap(score) == cap


def test_low_volume_campaigns_get_75_mpm() -> None:
    assert rules.throughput_mpm(100, "LOW_VOLUME") == 75


def test_brand_needs_ein_and_legal_name_unless_sole_proprietor() -> None:
    assert rules.normalize_brand("PRIVATE_PROFIT", " Acme ", "12-345 6789", "A@B.co", "(415) 555-0100") == (
        "Acme", "123456789", "a@b.co", "+14155550100")
    assert rules.normalize_brand("SOLE_PROPRIETOR", None, None, "a@b.co", "+14155550100")[:2] == (None, None)
    for args, field in ((("PRIVATE_PROFIT", "Acme", None, "a@b.co", "+14155550100"), "ein"),
                        (("NON_PROFIT", "Acme", "1234", "a@b.co", "+14155550100"), "ein"),
                        (("GOVERNMENT", None, "123456789", "a@b.co", "+14155550100"), "company_name"),
                        (("PUBLIC_PROFIT", "Acme", "123456789", "nope", "+14155550100"), "email"),
                        (("PUBLIC_PROFIT", "Acme", "123456789", "a@b.co", "12"), "phone")):
        with pytest.raises(CommandError) as exc:
            rules.normalize_brand(*args)
        assert field_of(exc) == field


def test_campaign_defaults_and_edits() -> None:
    body = CampaignBody(brand_id="b", use_case="2FA", description=" d ", message_flow="m",
                        sample_messages=["Your code is 1234. Reply STOP to opt out."], help_keywords=["help", " info"])
    f = rules.campaign_fields(body, "Acme", "ops@acme.example")
    assert f["description"] == "d" and f["help_keywords"] == ["HELP", "INFO"]
    assert "STOP" in f["opt_out_keywords"] and "Acme" in f["opt_out_message"]
    assert "ops@acme.example" in f["help_message"] and "STOP" in f["help_message"]
    assert f["embedded_link"] is False and f["opt_in_message"] is None
    edited, changed = rules.apply_edits(f, ResubmitBody(sample_messages=["new sample"], description="d"))
    assert edited["sample_messages"] == ["new sample"] and changed == ["sample_messages"]
    assert edited["message_flow"] == "m"


def test_parse_review_and_staleness() -> None:
    r = rules.parse_review({"campaign_ref": "c1", "status": "rejected", "reviewed_at": "2026-01-01T00:00:10.000Z",
                            "rejection_reasons": [{"code": "SAMPLES_MISSING_OPT_OUT", "description": "x"}]})
    assert not r.approved and r.reasons == [{"code": "SAMPLES_MISSING_OPT_OUT", "description": "x"}]
    t = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert not rules.is_stale(r, t + timedelta(milliseconds=500))  # precision / skew slack
    assert rules.is_stale(r, t + timedelta(seconds=5))
    for bad in ({}, {"campaign_ref": "c", "status": "maybe"}, [1]):
        with pytest.raises(ValueError):
            rules.parse_review(bad)


def test_send_gate_says_what_is_missing() -> None:
    gate = rules.send_gate
    assert gate(has_brand=False, has_campaign=False, campaign_id=None, campaign_status=None,
                rejection_reasons=[]).reason_code == "NO_BRAND"
    assert gate(has_brand=True, has_campaign=False, campaign_id=None, campaign_status=None,
                rejection_reasons=[]).reason_code == "NO_CAMPAIGN"
    assert gate(has_brand=True, has_campaign=True, campaign_id=None, campaign_status=None,
                rejection_reasons=[]).reason_code == "NO_CAMPAIGN"
    assert gate(has_brand=True, has_campaign=True, campaign_id="c", campaign_status="pending_review",
                rejection_reasons=[]).reason_code == "CAMPAIGN_PENDING"
    rejected = gate(has_brand=True, has_campaign=True, campaign_id="c", campaign_status="rejected",
                    rejection_reasons=[{"code": "DESCRIPTION_TOO_SHORT", "description": "d"}])
    assert rejected.reason_code == "CAMPAIGN_REJECTED" and "DESCRIPTION_TOO_SHORT" in rejected.reason
    assert rejected.details["rejection_reasons"][0]["code"] == "DESCRIPTION_TOO_SHORT"
    ok = gate(has_brand=True, has_campaign=True, campaign_id="c", campaign_status="approved", rejection_reasons=[])
    assert ok.sending_enabled and ok.reason_code is None


def test_describe_number() -> None:
    assert rules.describe_number("+14155550123") == ("CA", "San Francisco")
    assert rules.describe_number("+15555550100") == ("", "")


@pytest.mark.parametrize(("field", "words"), [
    ("help_keywords", ["STOP"]), ("help_keywords", ["alto"]), ("opt_out_keywords", ["HELP"]),
    ("opt_out_keywords", ["Start"]), ("opt_in_keywords", ["STOP"]), ("opt_out_keywords", ["!!!"]),
    ("opt_out_keywords", ["  "]), ("help_keywords", [" "]),
])
def test_campaign_keywords_may_not_take_another_meaning(field: str, words: list[str]) -> None:
    body = CampaignBody(brand_id="b", use_case="MARKETING", description="d", message_flow="m",
                        sample_messages=["s"], **{field: words})
    with pytest.raises(CommandError) as bad:
        rules.campaign_fields(body, "Acme", "a@example.com")
    assert bad.value.code == "VALIDATION_ERROR" and bad.value.details["field"] == f"{field}.0"


def test_campaign_keywords_of_their_own_are_kept_and_carried_to_compliance() -> None:
    body = CampaignBody(brand_id="b", use_case="MARKETING", description="d", message_flow="m", sample_messages=["s"],
                        opt_out_keywords=["STOP", "arret", "ALTO"], help_keywords=["HELP", "aide"],
                        opt_in_keywords=["YES", "JOIN"])
    f = rules.campaign_fields(body, "Acme", "a@example.com")
    assert rules.keyword_fields(f)["opt_out_keywords"] == ["STOP", "ARRET", "ALTO"]
    assert rules.keyword_fields(f)["help_keywords"] == ["HELP", "AIDE"]
    with pytest.raises(CommandError):
        rules.campaign_fields(CampaignBody(brand_id="b", use_case="MARKETING", description="d", message_flow="m",
                                           sample_messages=["s"], opt_out_keywords=["QUIT", "JOIN"],
                                           help_keywords=["JOIN"]), "Acme", "a@example.com")
