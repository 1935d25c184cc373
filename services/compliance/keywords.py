"""Keyword classification of inbound texts: the carrier keywords (whole message, case- and
space-insensitive) and a short, listed set of plain-language opt-out rules. Pure.

The plain-language rules are conservative on purpose: each matches a whole message that can only mean
"stop texting me" (an opt-out wrongly missed is a violation, but so is a customer's "stop by later"
treated as one: so every rule is anchored on both ends and tested on a corpus of phrases that must and
must not match)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
AFFIRM_KEYWORDS = frozenset({"YES", "Y"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

Intent = Literal["opt_out", "opt_in", "affirm", "help"]


@dataclass(frozen=True)
class Classified:
    intent: Intent | None
    source: Literal["keyword", "plain_language"] | None = None
    keyword: str = ""
    """The normalised keyword (STOP, YES...) for a keyword match."""
    rule: str = ""
    """What matched: the keyword, or the name of the plain-language rule."""


NONE = Classified(intent=None)

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


def keyword_of(text: str) -> str:
    """The whole message as a keyword candidate: NFKC, upper case, without spaces or punctuation
    ("Stop!" and " s t o p " are STOP, "opt out" is OPTOUT)."""
    return _NON_ALNUM.sub("", unicodedata.normalize("NFKC", text).upper())


_LEAD = r"(?:(?:please|pls|plz|kindly|hey|hi|hello|ok|okay|sorry|seriously)\s)*"
_TAIL = (r"(?:\s(?:please|pls|plz|thanks|thank you|thx|ty|now|right now|asap|immediately|already|anymore|"
         r"any more|again|ever again|for good|permanently|forever))*")
_ME = r"(?:me|us|this number|my number|my phone|my cell)"
_LIST = (r"(?:(?:this|the|your|ur|that|these|all|all your|all of your|all the)\s)?"
         r"(?:(?:texting|text|sms|mailing|contact|distribution|marketing|messaging|subscriber|call)\s)?"
         r"(?:list|lists|contacts|contact list|messages|texts|list please)")
_MESSAGES = r"(?:texts|messages|msgs|sms|text messages|txts)"

PLAIN_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(rx)) for name, rx in (
    # "please stop texting me", "stop sending me messages", "quit messaging me"
    ("stop_texting_me",
     rf"^{_LEAD}(?:stop|quit|cease)\s(?:texting|txting|texing|messaging|msging|contacting|spamming|sending)"
     rf"(?:\s{_ME})?(?:\s(?:these\s)?{_MESSAGES})?{_TAIL}$"),
    # "don't text me", "do not contact me again", "never message this number again"
    ("do_not_text_me",
     rf"^{_LEAD}(?:do not|dont|never|do not ever|dont ever)\s(?:text|txt|message|msg|contact|sms)\s{_ME}{_TAIL}$"),
    # "remove me", "remove me from this list", "delete my number from your list"
    ("remove_me",
     rf"^{_LEAD}(?:remove|delete)\s{_ME}(?:\s(?:from|off)\s{_LIST})?{_TAIL}$"),
    # "take me off your list", "get me off this list"
    ("take_me_off_list",
     rf"^{_LEAD}(?:take|get|drop)\s{_ME}\s(?:off|out of|from)\s{_LIST}{_TAIL}$"),
    # "unsubscribe me", "opt me out", "unsub", "opt out of these texts"
    ("unsubscribe_me",
     rf"^{_LEAD}(?:unsubscribe|unsub|opt out|optout|opt me out|opt us out)"
     rf"(?:\s{_ME})?(?:\s(?:from|of)\s(?:{_LIST}|this|these|these {_MESSAGES}|all))?{_TAIL}$"),
    # "I want to unsubscribe", "I'd like to opt out", "I want to stop receiving these texts"
    ("want_to_opt_out",
     r"^(?:i\s|id\s|i would\s|i d\s)?(?:want|wish|would like|like|need)\sto\s"
     rf"(?:unsubscribe|opt out|be removed(?:\s(?:from\s{_LIST}))?|stop receiving(?:\s(?:these|your))?\s{_MESSAGES}|"
     rf"stop getting(?:\s(?:these|your))?\s{_MESSAGES}){_TAIL}$"),
    # "no more texts", "no more messages please"
    ("no_more_texts", rf"^{_LEAD}no more\s{_MESSAGES}{_TAIL}$"),
    # "stop please", "please stop", "STOP NOW", "stop it", "unsubscribe please"
    ("polite_stop",
     rf"^{_LEAD}(?:stop|stopall|stop all|unsubscribe|quit|optout|opt out)(?:\s(?:it|this|that|all))?{_TAIL}$"),
    # "stop stop stop", "STOP. STOP", "stop unsubscribe"
    ("repeated_stop", r"^(?:stop|stopall|unsubscribe|quit|optout|opt out)(?:\s(?:stop|stopall|unsubscribe|quit|optout|opt out))+$"),
    # "leave me alone"
    ("leave_me_alone", rf"^{_LEAD}leave me alone{_TAIL}$"),
))

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def words_of(text: str) -> str:
    """Lower case words separated by single spaces; apostrophes vanish ("don't" is "dont")."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = _APOSTROPHES.sub("", t)
    return _NON_WORD.sub(" ", t).strip()


def plain_language_rule(text: str) -> str | None:
    words = words_of(text)
    if not words or len(words) > 120:
        return None
    for name, rx in PLAIN_RULES:
        if rx.match(words):
            return name
    return None


def classify(text: str) -> Classified:
    kw = keyword_of(text)
    if kw in OPT_OUT_KEYWORDS:
        return Classified("opt_out", "keyword", kw, kw)
    if kw in OPT_IN_KEYWORDS:
        return Classified("opt_in", "keyword", kw, kw)
    if kw in AFFIRM_KEYWORDS:
        return Classified("affirm", "keyword", kw, kw)
    if kw in HELP_KEYWORDS:
        return Classified("help", "keyword", kw, kw)
    rule = plain_language_rule(text)
    if rule is not None:
        return Classified("opt_out", "plain_language", "", rule)
    return NONE
