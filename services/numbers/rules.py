"""Pure rules of numbers and 10DLC that are not an aggregate's life: input checks, webhook URL policy and
secrets, carrier limits, campaign fields and keywords, review decisions, who may send. No I/O."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import phonenumbers
from phonenumbers import geocoder

from libs.phone import normalize_e164
from proto import keywords
from proto.base import CommandError, parse_rfc3339
from proto.http.tendlc import CampaignFields

SECRET_PREFIX = "whsec_"
_ALPHABET = string.ascii_letters + string.digits
_AREA_CODE = re.compile(r"^[2-9]\d\d$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")

DEFAULT_OPT_OUT_KEYWORDS = keywords.DEFAULT_CAMPAIGN_OPT_OUT
DEFAULT_HELP_KEYWORDS = keywords.DEFAULT_CAMPAIGN_HELP


def invalid(field: str, message: str, **details: Any) -> CommandError:
    return CommandError("VALIDATION_ERROR", f"{field}: {message}", 400, {"field": field, **details})


# -- numbers ---------------------------------------------------------------------------------------
def check_area_code(area_code: str) -> str:
    """Form only (3 digits, N not 0/1, not an N11 service code); the carrier says whether it is assigned."""
    code = area_code.strip()
    if not _AREA_CODE.match(code) or code[1:] == "11":
        raise invalid("area_code", "must be a 3-digit NANP area code such as 415")
    return code


def order_numbers(raw: list[str], max_count: int) -> list[str]:
    """E.164, duplicates dropped, order kept."""
    if not raw:
        raise invalid("numbers", "name at least one number")
    out: list[str] = []
    for i, value in enumerate(raw):
        try:
            e164 = normalize_e164(value)
        except ValueError as exc:
            raise invalid(f"numbers.{i}", str(exc)) from exc
        if not e164.startswith("+1"):
            raise invalid(f"numbers.{i}", "only US (+1) numbers can be ordered")
        if e164 not in out:
            out.append(e164)
    if len(out) > max_count:
        raise invalid("numbers", f"at most {max_count} numbers per order")
    return out


def new_webhook_secret() -> str:
    """``whsec_`` + 32 base62 characters (about 190 bits)."""
    return SECRET_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(32))


def active_secrets(current: str | None, previous: str | None, previous_expires_at: datetime | None,
                   now: datetime) -> list[str]:
    """Newest first; the previous secret only while its grace period lasts."""
    out = [current] if current else []
    if previous and previous_expires_at is not None and previous_expires_at > now:
        out.append(previous)
    return out


# -- 10DLC limits ------------------------------------------------------------------------------------
THROUGHPUT_MPM: Final = ((75, 4500), (50, 2400), (1, 240), (0, 75))
"""AT&T messages per minute per campaign: (lowest vetting score, limit), highest first."""
DAILY_CAP: Final = ((75, 200_000), (50, 40_000), (25, 10_000), (0, 2_000))
"""T-Mobile brand daily cap: (lowest vetting score, cap), highest first."""


def _tier(tiers: tuple[tuple[int, int], ...], vetting_score: int) -> int:
    return next((limit for lowest, limit in tiers if vetting_score >= lowest), tiers[-1][1])


def throughput_mpm(vetting_score: int, use_case: str | None = None) -> int:
    """AT&T messages per minute per campaign, by vetting score; LOW_VOLUME campaigns get 75."""
    return 75 if use_case == "LOW_VOLUME" else _tier(THROUGHPUT_MPM, vetting_score)


def daily_cap(vetting_score: int) -> int:
    """T-Mobile brand daily cap, by vetting score."""
    return _tier(DAILY_CAP, vetting_score)


def normalize_brand(entity_type: str, company_name: str | None, ein: str | None, email: str,
                    phone: str) -> tuple[str | None, str | None, str, str]:
    """(company_name, ein digits, email, phone E.164); EIN and legal name are required except for
    sole proprietors."""
    sole = entity_type == "SOLE_PROPRIETOR"
    digits: str | None = None
    if ein is not None and ein.strip():
        digits = re.sub(r"[\s-]", "", ein)
        if not re.fullmatch(r"\d{9}", digits):
            raise invalid("ein", "must be a 9-digit EIN such as 12-3456789")
    elif not sole:
        raise invalid("ein", "is required (except for SOLE_PROPRIETOR)")
    name = company_name.strip() if company_name else None
    if not name and not sole:
        raise invalid("company_name", "is required (except for SOLE_PROPRIETOR)")
    mail = email.strip().lower()
    if not _EMAIL.match(mail):
        raise invalid("email", "must be an email address")
    try:
        e164 = normalize_e164(phone)
    except ValueError as exc:
        raise invalid("phone", str(exc)) from exc
    return name, digits, mail, e164


def default_help_message(brand_name: str, email: str) -> str:
    return (f"{brand_name}: for help contact {email}. Msg frequency varies. Msg & data rates may apply. "
            "Reply STOP to opt out.")


def default_opt_out_message(brand_name: str) -> str:
    return f"{brand_name}: you are unsubscribed and will receive no more messages. Reply START to resubscribe."


CAMPAIGN_FIELDS = ("sub_use_cases", "description", "message_flow", "sample_messages", "opt_in_keywords",
                   "opt_in_message", "opt_out_keywords", "opt_out_message", "help_keywords", "help_message",
                   "embedded_link", "embedded_phone", "age_gated", "number_pool")


def _keywords(words: list[str]) -> list[str]:
    """Upper case, deduplicated; a blank word is kept for check_keywords to refuse (dropping it made
    ``["  "]`` a campaign with no opt-out keyword at all)."""
    return list(dict.fromkeys(w.strip().upper() for w in words))


_MEANING = {"opt_out_keywords": "opt_out", "help_keywords": "help", "opt_in_keywords": "opt_in"}


def check_keywords(fields: dict[str, Any]) -> None:
    """A campaign's keywords must be words a contact can text (letters and digits after folding) and may not
    give a keyword every program shares (``proto.keywords``: STOP, ALTO, START, YES, HELP, AYUDA...) or
    another of its own lists a second meaning: "HELP" as an opt-out keyword would opt out whoever asks for
    help."""
    seen: dict[str, str] = {}
    for name, meaning in _MEANING.items():
        for i, word in enumerate(fields.get(name) or []):
            folded = keywords.keyword_of(word)
            if not folded:
                raise invalid(f"{name}.{i}", "a keyword needs letters or digits")
            reserved = keywords.reserved_meaning(word)
            if reserved is not None and reserved != meaning and not (meaning == "opt_in" and reserved == "affirm"):
                raise invalid(f"{name}.{i}", f"{word!r} already means {reserved.replace('_', '-')} to every "
                                             "program; choose another keyword", keyword=word)
            if seen.get(folded, meaning) != meaning:
                raise invalid(f"{name}.{i}", f"{word!r} is also one of the campaign's {seen[folded]} keywords",
                              keyword=word)
            seen[folded] = meaning


def keyword_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """What compliance needs of a campaign to honour its own keywords (carried on its events)."""
    return {"opt_out_keywords": list(fields.get("opt_out_keywords") or []),
            "opt_out_message": fields.get("opt_out_message") or "",
            "help_keywords": list(fields.get("help_keywords") or []),
            "help_message": fields.get("help_message") or "",
            "opt_in_keywords": list(fields.get("opt_in_keywords") or []),
            "opt_in_message": fields.get("opt_in_message") or ""}


def campaign_fields(body: CampaignFields, brand_name: str, brand_email: str) -> dict[str, Any]:
    """What a new campaign says, with the defaults a reviewer expects (STOP/HELP keywords and replies)."""
    f: dict[str, Any] = {
        "sub_use_cases": list(body.sub_use_cases or []),
        "description": (body.description or "").strip(),
        "message_flow": (body.message_flow or "").strip(),
        "sample_messages": [m.strip() for m in body.sample_messages or []],
        "opt_in_keywords": _keywords(body.opt_in_keywords or []),
        "opt_in_message": (body.opt_in_message or "").strip() or None,
        "opt_out_keywords": _keywords(body.opt_out_keywords or DEFAULT_OPT_OUT_KEYWORDS),
        "opt_out_message": (body.opt_out_message or "").strip() or default_opt_out_message(brand_name),
        "help_keywords": _keywords(body.help_keywords or DEFAULT_HELP_KEYWORDS),
        "help_message": (body.help_message or "").strip() or default_help_message(brand_name, brand_email),
    }
    for flag in ("embedded_link", "embedded_phone", "age_gated", "number_pool"):
        f[flag] = bool(getattr(body, flag))
    check_keywords(f)
    return f


def apply_edits(current: dict[str, Any], edits: CampaignFields) -> tuple[dict[str, Any], list[str]]:
    """A rejected campaign's fields with the given edits (fields left out or null keep their value)."""
    out = dict(current)
    for name in CAMPAIGN_FIELDS:
        value = getattr(edits, name)
        if value is None:
            continue
        if name.endswith("_keywords"):
            value = _keywords(value)
        elif name in ("sample_messages", "sub_use_cases"):
            value = [v.strip() for v in value]
        elif isinstance(value, str):
            value = value.strip()
        out[name] = value
    check_keywords(out)
    return out, sorted(k for k in CAMPAIGN_FIELDS if out.get(k) != current.get(k))


# -- review callbacks --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Review:
    campaign_ref: str
    approved: bool
    reasons: list[dict[str, str]]
    reviewed_at: datetime | None


def parse_review(payload: Any) -> Review:
    """The carrier's campaign decision; ValueError when it is not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("campaign_ref"), str):
        raise ValueError("campaign_ref missing")
    status = payload.get("status")
    if status not in ("approved", "rejected"):
        raise ValueError(f"unknown status {status!r}")
    reasons = [{"code": str(r.get("code", "")), "description": str(r.get("description", ""))}
               for r in payload.get("rejection_reasons") or [] if isinstance(r, dict)]
    reviewed_at: datetime | None = None
    raw = payload.get("reviewed_at")
    if isinstance(raw, str):
        reviewed_at = parse_rfc3339(raw)
    return Review(payload["campaign_ref"], status == "approved", reasons, reviewed_at)


def is_stale(review: Review, submitted_at: datetime | None) -> bool:
    """A decision made before the current submission (a late retry of an older review) is ignored; a
    second of slack absorbs timestamp precision and clock skew."""
    return (review.reviewed_at is not None and submitted_at is not None
            and review.reviewed_at < submitted_at - timedelta(seconds=1))


# -- may this number send? ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SendGate:
    sending_enabled: bool
    reason_code: str | None
    reason: str
    details: dict[str, Any]


def send_gate(*, has_brand: bool, has_campaign: bool, campaign_id: str | None, campaign_status: str | None,
              rejection_reasons: list[dict[str, str]]) -> SendGate:
    """Sending needs the number on an approved campaign; otherwise say exactly what is missing."""
    if campaign_id is not None and campaign_status == "approved":
        return SendGate(True, None, "", {})
    if campaign_id is not None and campaign_status == "rejected":
        codes = ", ".join(r["code"] for r in rejection_reasons) or "no reason given"
        return SendGate(False, "CAMPAIGN_REJECTED",
                        f"campaign {campaign_id} was rejected by carrier review ({codes}); fix it and resubmit "
                        f"with POST /v1/campaigns/{campaign_id}/resubmit",
                        {"campaign_id": campaign_id, "rejection_reasons": rejection_reasons})
    if campaign_id is not None:
        return SendGate(False, "CAMPAIGN_PENDING",
                        f"campaign {campaign_id} is pending carrier review; sending unlocks when it is approved",
                        {"campaign_id": campaign_id})
    if not has_brand:
        return SendGate(False, "NO_BRAND",
                        "no 10DLC brand is registered: register one (POST /v1/brands), then a campaign "
                        "(POST /v1/campaigns)", {})
    if not has_campaign:
        return SendGate(False, "NO_CAMPAIGN",
                        "no 10DLC campaign is registered: create one (POST /v1/campaigns)", {})
    return SendGate(False, "NO_CAMPAIGN",
                    "the number is on no campaign: add it with POST /v1/campaigns/{id}/phone-numbers", {})


# -- geography ---------------------------------------------------------------------------------------
_STATES = dict(p.split(" ", 1)[::-1] for p in (
    "AL Alabama|AK Alaska|AZ Arizona|AR Arkansas|CA California|CO Colorado|CT Connecticut|DE Delaware|"
    "DC Washington D.C.|FL Florida|GA Georgia|HI Hawaii|ID Idaho|IL Illinois|IN Indiana|IA Iowa|KS Kansas|"
    "KY Kentucky|LA Louisiana|ME Maine|MD Maryland|MA Massachusetts|MI Michigan|MN Minnesota|"
    "MS Mississippi|MO Missouri|MT Montana|NE Nebraska|NV Nevada|NH New Hampshire|NJ New Jersey|"
    "NM New Mexico|NY New York|NC North Carolina|ND North Dakota|OH Ohio|OK Oklahoma|OR Oregon|"
    "PA Pennsylvania|RI Rhode Island|SC South Carolina|SD South Dakota|TN Tennessee|TX Texas|UT Utah|"
    "VT Vermont|VA Virginia|WA Washington|WV West Virginia|WI Wisconsin|WY Wyoming").split("|"))


def describe_number(e164: str) -> tuple[str, str]:
    """(US state code, locality) from libphonenumber's offline geocoder; '' where unknown."""
    try:
        text = geocoder.description_for_number(phonenumbers.parse(e164), "en")
    except phonenumbers.NumberParseException:
        return "", ""
    city, _, state = text.rpartition(", ")
    if city and len(state) == 2:
        return state, city
    return _STATES.get(text, ""), ""
