"""Number facts: the deterministic inventory per NANP area code, E.164 checks and geography."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

import phonenumbers
from phonenumbers import geocoder

from libs.phone import normalize_e164

FICTIONAL_NPA: Final = "555"
EXCHANGES: Final = ("555", *(f"20{d}" for d in range(1, 10)))
_INVENTORY = re.compile(r"\+1([2-9]\d\d)(555|20[1-9])01\d\d")
_GEOGRAPHIC: Final = frozenset(
    {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)
_US_TERRITORIES: Final = frozenset({"PR", "GU", "VI", "AS", "MP"})
_STATE_TEXT: Final = (
    "AL Alabama|AK Alaska|AZ Arizona|AR Arkansas|CA California|CO Colorado|CT Connecticut|"
    "DE Delaware|DC Washington D.C.|FL Florida|GA Georgia|HI Hawaii|ID Idaho|IL Illinois|"
    "IN Indiana|IA Iowa|KS Kansas|KY Kentucky|LA Louisiana|ME Maine|MD Maryland|"
    "MA Massachusetts|MI Michigan|MN Minnesota|MS Mississippi|MO Missouri|MT Montana|"
    "NE Nebraska|NV Nevada|NH New Hampshire|NJ New Jersey|NM New Mexico|NY New York|"
    "NC North Carolina|ND North Dakota|OH Ohio|OK Oklahoma|OR Oregon|PA Pennsylvania|"
    "RI Rhode Island|SC South Carolina|SD South Dakota|TN Tennessee|TX Texas|UT Utah|"
    "VT Vermont|VA Virginia|WA Washington|WV West Virginia|WI Wisconsin|WY Wyoming"
)
_STATES: Final = {name: code for code, name in (p.split(" ", 1) for p in _STATE_TEXT.split("|"))}


@lru_cache(maxsize=1024)
def is_valid_area_code(npa: str) -> bool:
    """A NANP area code is valid if some exchange in it holds a geographic number (or it is 555)."""
    if npa == FICTIONAL_NPA:
        return True
    if not re.fullmatch(r"[2-9]\d\d", npa):
        return False
    for exchange in range(200, 1000):
        number = phonenumbers.parse(f"+1{npa}{exchange}0100")
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _GEOGRAPHIC:
            return True
    return False


def inventory(npa: str) -> list[str]:
    """The 1,000 numbers of an area code: +1 NPA {555,201..209} 0100..0199."""
    return [f"+1{npa}{ex}01{line:02d}" for ex in EXCHANGES for line in range(100)]


def in_inventory(e164: str) -> bool:
    match = _INVENTORY.fullmatch(e164)
    return match is not None and is_valid_area_code(match.group(1))


def describe(e164: str) -> tuple[str, str]:
    """(US state or territory code, locality) of a number, '' where unknown."""
    number = phonenumbers.parse(e164)
    region = phonenumbers.region_code_for_number(number) or ""
    if region in _US_TERRITORIES:
        return region, ""
    if region != "US":
        return "", ""
    text = geocoder.description_for_number(number, "en")
    city, _, state = text.rpartition(", ")
    if city and state in _STATES.values():
        return state, city
    return _STATES.get(text, ""), ""


def is_e164(value: str) -> bool:
    """Strictly +<digits> already in E.164 form, and a possible number."""
    try:
        return normalize_e164(value) == value
    except ValueError:
        return False
