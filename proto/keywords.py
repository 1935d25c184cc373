"""The keyword vocabulary every service shares: the carrier keywords a contact texts (whole message) to opt
out, opt back in, confirm or ask for help, in English and Spanish. One place: compliance classifies inbound
texts with it, numbers validates and defaults a campaign's keywords with it.

Keywords are compared after ``keyword_of``: Unicode-folded, accents removed, upper case, letters and digits
only ("Stop!" is STOP, "opt out" is OPTOUT, "Baja." is BAJA, "DETÉN" is DETEN)."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Language = Literal["en", "es"]

OPT_OUT: dict[str, Language] = {
    # CTIA / carriers, and the words the FCC rule (11 Apr 2025) says revoke consent per se
    "STOP": "en", "STOPALL": "en", "UNSUBSCRIBE": "en", "CANCEL": "en", "END": "en", "QUIT": "en",
    "REVOKE": "en", "OPTOUT": "en",
    # Spanish: the words US carriers and the CTIA handbook's Spanish programs honour
    "ALTO": "es", "PARA": "es", "PARAR": "es", "PARE": "es", "BAJA": "es", "CANCELAR": "es", "DETENER": "es",
    "DETENTE": "es", "DETEN": "es", "DESUSCRIBIR": "es", "DARDEBAJA": "es", "DARMEDEBAJA": "es",
}
"""Whole-message opt-out keywords and the language of each (the confirmation is sent in it)."""

OPT_IN: dict[str, Language] = {"START": "en", "UNSTOP": "en", "SUBSCRIBE": "en", "COMENZAR": "es",
                               "INICIAR": "es", "REANUDAR": "es"}
"""Whole-message opt back in."""

AFFIRM: dict[str, Language] = {"YES": "en", "Y": "en", "SI": "es"}
"""A yes: confirms a pending double opt-in (or opts back in after an opt-out)."""

HELP: dict[str, Language] = {"HELP": "en", "INFO": "en", "AYUDA": "es", "INFORMACION": "es"}
"""Whole-message help requests, answered with the help message."""

DEFAULT_CAMPAIGN_OPT_OUT = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
"""The opt-out keywords a campaign lists when it names none (compliance honours all of ``OPT_OUT`` anyway)."""
DEFAULT_CAMPAIGN_HELP = ["HELP", "INFO"]

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


def fold(text: str) -> str:
    """NFKC, accents removed (á → a, ñ → n), lower case."""
    if text.isascii():  # most texts: nothing to fold
        return text.lower()
    t = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    return "".join(ch for ch in t if not unicodedata.combining(ch)).lower()


def keyword_of(text: str) -> str:
    """A whole message as a keyword candidate: folded, upper case, letters and digits only."""
    return _NON_ALNUM.sub("", fold(text).upper())


def reserved_meaning(keyword: str) -> str | None:
    """What a keyword already means to every program ("opt_out", "opt_in", "affirm", "help"), if anything:
    a campaign may not give it another meaning."""
    k = keyword_of(keyword)
    for name, words in (("opt_out", OPT_OUT), ("opt_in", OPT_IN), ("affirm", AFFIRM), ("help", HELP)):
        if k in words:
            return name
    return None
