"""Campaign review rules: good campaigns pass, each bad trait yields its reason code."""

from __future__ import annotations

from typing import Any

import pytest

from services.carrier_sim.review import CampaignRequest, review_campaign


def campaign(**overrides: Any) -> CampaignRequest:
    fields: dict[str, Any] = {
        "brand_ref": "simb-1",
        "entity_type": "PRIVATE_PROFIT",
        "use_case": "ACCOUNT_NOTIFICATION",
        "description": "Account notifications for customers of Acme about their orders and billing.",
        "message_flow": "Customers opt in by checking a consent checkbox on the acme.example signup form.",
        "sample_messages": ["Acme: your invoice is ready. Reply STOP to opt out, HELP for help."],
        "opt_in_keywords": ["START"],
        "opt_in_message": "Acme: you are subscribed. Msg&data rates may apply. Reply STOP to opt out.",
        "opt_out_keywords": ["STOP"],
        "help_keywords": ["HELP"],
    }
    fields.update(overrides)
    return CampaignRequest(**fields)


def codes(req: CampaignRequest) -> list[str]:
    return [r.code for r in review_campaign(req)]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"use_case": "2FA", "sample_messages": ["Your Acme code is 123456. Reply STOP to opt out."]},
        {"use_case": "2FA", "sample_messages": ["Use the code we sent you. Text STOP to unsubscribe."]},
        {
            "use_case": "DELIVERY_NOTIFICATION",
            "sample_messages": ["Acme: your package has shipped. Reply STOP to end."],
        },
        {
            "use_case": "FRAUD_ALERT",
            "sample_messages": ["Acme: suspicious charge of $40? Reply STOP to quit."],
        },
        {"use_case": "SECURITY_ALERT", "sample_messages": ["New login to your Acme account. Opt out: STOP"]},
        {
            "use_case": "MARKETING",
            "opt_in_keywords": [],
            "opt_in_message": "You're in! Reply STOP to cancel.",
        },
        {"use_case": "MARKETING", "opt_in_keywords": "JOIN", "opt_in_message": ""},
        {"use_case": "MIXED", "sub_use_cases": ["2FA", "ACCOUNT_NOTIFICATION"]},
        {"use_case": "customer_care"},
        {"entity_type": "SOLE_PROPRIETOR", "brand_campaign_count": 1, "number_count": 1},
        {"sample_messages": [f"Acme notice {i}. Reply STOP to opt-out." for i in range(5)]},
    ],
)
def test_good_campaigns_are_approved(overrides: dict[str, Any]) -> None:
    # given a well-formed campaign, when reviewed, then no reasons
    assert review_campaign(campaign(**overrides)) == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"sample_messages": ["Acme: your invoice is ready."]}, ["SAMPLES_MISSING_OPT_OUT"]),
        ({"sample_messages": ["Please send the report by the weekend."]}, ["SAMPLES_MISSING_OPT_OUT"]),
        ({"description": "Acme notices."}, ["DESCRIPTION_TOO_SHORT"]),
        ({"message_flow": "We send messages."}, ["MESSAGE_FLOW_INSUFFICIENT"]),
        (
            {"message_flow": "Messages go out to all customers whom we have on file in our CRM."},
            ["MESSAGE_FLOW_INSUFFICIENT"],
        ),
        (
            {"use_case": "2FA", "sample_messages": ["Welcome to Acme! Reply STOP to opt out."]},
            ["SAMPLES_USE_CASE_MISMATCH"],
        ),
        (
            {"use_case": "DELIVERY_NOTIFICATION", "sample_messages": ["Hi from Acme! Reply STOP to end."]},
            ["SAMPLES_USE_CASE_MISMATCH"],
        ),
        (
            {"use_case": "FRAUD_ALERT", "sample_messages": ["Big sale at Acme today! Reply STOP to end."]},
            ["SAMPLES_PROMOTIONAL", "SAMPLES_USE_CASE_MISMATCH"],
        ),
        (
            {"use_case": "MARKETING", "opt_in_keywords": [], "opt_in_message": " "},
            ["MARKETING_WITHOUT_OPT_IN"],
        ),
        (
            {"use_case": "MARKETING", "opt_in_keywords": None, "opt_in_message": None},
            ["MARKETING_WITHOUT_OPT_IN"],
        ),
        ({"entity_type": "SOLE_PROPRIETOR", "brand_campaign_count": 2}, ["SOLE_PROPRIETOR_LIMIT"]),
        ({"entity_type": "SOLE_PROPRIETOR", "number_count": 3}, ["SOLE_PROPRIETOR_LIMIT"]),
        ({"use_case": "MIXED", "sub_use_cases": ["2FA"]}, ["MIXED_SUB_USE_CASES"]),
        ({"use_case": "MIXED", "sub_use_cases": ["A", "B", "C", "D", "E", "F"]}, ["MIXED_SUB_USE_CASES"]),
        ({"sample_messages": [f"Acme {i}. Reply STOP to opt out." for i in range(6)]}, ["SAMPLE_COUNT"]),
        ({"sample_messages": []}, ["SAMPLE_COUNT", "SAMPLES_MISSING_OPT_OUT"]),
        ({"use_case": "CRYPTO_GIVEAWAY"}, ["INVALID_USE_CASE"]),
    ],
)
def test_bad_campaigns_get_reasons(overrides: dict[str, Any], expected: list[str]) -> None:
    # given a campaign with one flaw, when reviewed, then exactly that flaw is reported
    assert sorted(codes(campaign(**overrides))) == sorted(expected)


def test_many_flaws_are_all_reported_with_descriptions() -> None:
    req = campaign(
        use_case="MARKETING",
        entity_type="SOLE_PROPRIETOR",
        number_count=2,
        description="Deals",
        message_flow="",
        sample_messages=["50% off today only"],
        opt_in_keywords=[],
        opt_in_message="",
    )
    reasons = review_campaign(req)
    assert [r.code for r in reasons] == [
        "SAMPLES_MISSING_OPT_OUT",
        "DESCRIPTION_TOO_SHORT",
        "MESSAGE_FLOW_INSUFFICIENT",
        "MARKETING_WITHOUT_OPT_IN",
        "SOLE_PROPRIETOR_LIMIT",
    ]
    assert all(r.description for r in reasons)


PROMOTIONAL = [
    "Acme: 20% off everything this weekend! Shop now at acme.example. Reply STOP to opt out.",
    "Acme summer sale: save up to $50 on all plans. Reply STOP to opt out.",
    "Acme: use code SPRING for a discount on your next order. Reply STOP to end.",
    "Acme: exclusive offer for you, free shipping on new arrivals. Text STOP to opt out.",
    "Acme: limited-time deal, buy one get one. Reply STOP to unsubscribe.",
]
NOT_PROMOTIONAL = [
    "Acme: your order today has shipped and arrives Friday. Reply STOP to opt out.",
    "Acme: your invoice of $20 is ready. Reply STOP to opt out, HELP for help.",
    "Acme: we are dealing with an outage; service is back at 5pm. Reply STOP to opt out.",
    "Acme: your password was changed. If this was not you, reply HELP. Reply STOP to opt out.",
]


@pytest.mark.parametrize("sample", PROMOTIONAL)
@pytest.mark.parametrize("use_case", ["ACCOUNT_NOTIFICATION", "CUSTOMER_CARE", "LOW_VOLUME"])
def test_promotional_samples_under_a_non_marketing_use_case_are_flagged_with_the_reason(
        sample: str, use_case: str) -> None:
    reasons = review_campaign(campaign(use_case=use_case, sample_messages=[
        "Acme: your invoice is ready. Reply STOP to opt out.", sample]))
    flagged = [r for r in reasons if r.code == "SAMPLES_PROMOTIONAL"]
    assert len(flagged) == 1, reasons
    assert "sample 2 is promotional" in flagged[0].description and use_case in flagged[0].description


@pytest.mark.parametrize("sample", PROMOTIONAL)
def test_promotional_samples_are_fine_under_marketing_or_mixed_with_marketing(sample: str) -> None:
    assert codes(campaign(use_case="MARKETING", sample_messages=[sample])) == []
    assert codes(campaign(use_case="MIXED", sub_use_cases=["MARKETING", "ACCOUNT_NOTIFICATION"],
                          sample_messages=[sample])) == []
    assert "SAMPLES_PROMOTIONAL" in codes(campaign(use_case="MIXED", sub_use_cases=["CUSTOMER_CARE",
                                                                                   "ACCOUNT_NOTIFICATION"],
                                                   sample_messages=[sample]))


@pytest.mark.parametrize("sample", NOT_PROMOTIONAL)
def test_notifications_are_not_taken_for_promotions(sample: str) -> None:
    assert "SAMPLES_PROMOTIONAL" not in codes(campaign(sample_messages=[sample]))
