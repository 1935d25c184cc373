"""Campaign review rules: the pure decision a simulated carrier makes on a 10DLC campaign."""

from __future__ import annotations

import re
from typing import Final

import msgspec

USE_CASES: Final = frozenset(
    {
        "2FA",
        "ACCOUNT_NOTIFICATION",
        "CUSTOMER_CARE",
        "DELIVERY_NOTIFICATION",
        "FRAUD_ALERT",
        "HIGHER_EDUCATION",
        "LOW_VOLUME",
        "MARKETING",
        "MIXED",
        "POLLING_VOTING",
        "PUBLIC_SERVICE_ANNOUNCEMENT",
        "SECURITY_ALERT",
    }
)
MIN_TEXT_LENGTH: Final = 40

_OPT_OUT = re.compile(
    r"\b(stop|stopall|unsubscribe|cancel|end|quit|revoke|optout|opt[\s-]?out)\b", re.IGNORECASE
)
_CONSENT = re.compile(
    r"\b(opt|consent|sign[\s-]?up|subscrib|agree|text|form|check[\s-]?box|reply|keyword"
    r"|web[\s-]?site|enrol|regist)",
    re.IGNORECASE,
)
_CODE = re.compile(r"\d|\bcode\b", re.IGNORECASE)
_DELIVERY = re.compile(r"\b(deliver|order|package|parcel|ship|track|arriv|courier)", re.IGNORECASE)
_ALERT = re.compile(
    r"\b(fraud|suspicious|security|alert|log[\s-]?in|sign[\s-]?in|unusual|unauthori[sz]ed)",
    re.IGNORECASE,
)
# Promotional content (CTIA: marketing needs the MARKETING use case, or MIXED with MARKETING among its
# sub use cases): offers, discounts, sales and calls to buy.
_PROMOTIONAL = re.compile(
    r"\b\d{1,3}\s?%\s?off\b|\$\d+(?:\.\d\d)?\s?off\b|\b(?:flash |big |annual |holiday )?sale\b|\bclearance\b"
    r"|\bdiscount(?:s|ed)?\b|\bpromo(?:tion|tional)?s?\b|\bcoupons?\b|\bdeals?\b|\bbogo\b"
    r"|\b(?:shop|buy) (?:now|today)\b|\blimited[\s-]time\b|\b(?:special|exclusive) offers?\b"
    r"|\bsave (?:\$|up to|\d)|\bfree (?:shipping|gift|trial)\b|\bnew arrivals\b|\buse code\b|\bbuy one\b",
    re.IGNORECASE,
)
MARKETING_USE_CASES: Final = frozenset({"MARKETING"})

_SAMPLE_PATTERNS: Final = {
    "2FA": (_CODE, "2FA samples must contain a one-time code"),
    "DELIVERY_NOTIFICATION": (_DELIVERY, "delivery samples must mention an order or delivery"),
    "FRAUD_ALERT": (_ALERT, "fraud alert samples must mention the suspicious activity"),
    "SECURITY_ALERT": (_ALERT, "security alert samples must mention the security event"),
}


class CampaignRequest(msgspec.Struct, kw_only=True):
    """A campaign as submitted to the registry (unknown fields are ignored)."""

    brand_ref: str
    use_case: str
    campaign_ref: str | None = None
    entity_type: str = ""
    brand_campaign_count: int = 1
    number_count: int = 1
    sub_use_cases: list[str] = []
    description: str = ""
    message_flow: str = ""
    sample_messages: list[str] = []
    opt_in_keywords: list[str] | str | None = None
    opt_in_message: str | None = None
    opt_out_keywords: list[str] | str | None = None
    opt_out_message: str | None = None
    help_keywords: list[str] | str | None = None
    help_message: str | None = None
    embedded_link: bool | None = None
    embedded_phone: bool | None = None
    age_gated: bool | None = None
    number_pool: bool | None = None


class Reason(msgspec.Struct, frozen=True):
    """Why a campaign was rejected."""

    code: str
    description: str


def _blank(value: list[str] | str | None) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return not any(item.strip() for item in value)


def review_campaign(req: CampaignRequest) -> list[Reason]:
    """Return the rejection reasons for a campaign; an empty list means approved."""
    reasons: list[Reason] = []
    use_case = req.use_case.strip().upper()
    samples = [s for s in req.sample_messages if s.strip()]

    if use_case not in USE_CASES:
        reasons.append(Reason("INVALID_USE_CASE", f"unknown use case {req.use_case!r}"))
    if not 1 <= len(req.sample_messages) <= 5:
        reasons.append(Reason("SAMPLE_COUNT", "a campaign needs 1 to 5 sample messages"))
    if not any(_OPT_OUT.search(s) for s in samples):
        reasons.append(
            Reason("SAMPLES_MISSING_OPT_OUT", "no sample message tells how to opt out (e.g. Reply STOP)")
        )
    if len(req.description.strip()) < MIN_TEXT_LENGTH:
        reasons.append(
            Reason("DESCRIPTION_TOO_SHORT", f"description must be at least {MIN_TEXT_LENGTH} characters")
        )
    flow = req.message_flow.strip()
    if len(flow) < MIN_TEXT_LENGTH or not _CONSENT.search(flow):
        reasons.append(
            Reason("MESSAGE_FLOW_INSUFFICIENT", "message flow must describe how consent is collected")
        )
    check = _SAMPLE_PATTERNS.get(use_case)
    if check is not None and samples and not any(check[0].search(s) for s in samples):
        reasons.append(Reason("SAMPLES_USE_CASE_MISMATCH", check[1]))
    marketing = use_case in MARKETING_USE_CASES or (
        use_case == "MIXED" and any(u.strip().upper() == "MARKETING" for u in req.sub_use_cases))
    if use_case in USE_CASES and not marketing:
        for i, sample in enumerate(samples, 1):
            hit = _PROMOTIONAL.search(sample)
            if hit is not None:
                reasons.append(Reason(
                    "SAMPLES_PROMOTIONAL",
                    f"sample {i} is promotional ({hit.group(0)!r}) but the use case is {use_case}: marketing "
                    "content needs the MARKETING use case (or MIXED with MARKETING)"))
                break
    if use_case == "MARKETING" and _blank(req.opt_in_message) and _blank(req.opt_in_keywords):
        reasons.append(
            Reason("MARKETING_WITHOUT_OPT_IN", "marketing needs an opt-in message or opt-in keywords")
        )
    if req.entity_type.strip().upper() == "SOLE_PROPRIETOR" and (
        req.brand_campaign_count > 1 or req.number_count > 1
    ):
        reasons.append(
            Reason("SOLE_PROPRIETOR_LIMIT", "a sole proprietor may have one campaign and one number")
        )
    if use_case == "MIXED" and not 2 <= len(req.sub_use_cases) <= 5:
        reasons.append(Reason("MIXED_SUB_USE_CASES", "a MIXED campaign needs 2 to 5 sub use cases"))
    return reasons
