"""What an inbound text asks for: opt out, opt back in, yes, help, or nothing. Pure; rules only.

Three layers:

1. **Keywords** (``proto.keywords``, English and Spanish): the whole message, folded (``Stop!``, ``S T O P``,
   ``Baja.``), or a campaign's own keyword texted to that campaign's number.
2. **Plain language** (the FCC's "any reasonable means"): the text is normalised (accents folded, emoji and
   punctuation split it into clauses, apostrophes dropped so "don't" is ``dont``, shorthand and common typos
   mended: ``pls``, ``txt``, ``stpo``, ``unsubscibe``, a long word one letter off, a hinge word without its
   vowels or its final g, ``txtng``, ``blowin``), then each clause is read by named rules:

   - a clause that is nothing but an opt-out word and filler ("omg stop", "stop it already", "STOP!!");
   - phrases that ask for the texts to end ("stop sending me these", "take me off your list", "wrong number",
     "I never signed up for this", "no me envíen más", "quítenme de la lista"), each refused when a negation
     or question leads it ("don't stop texting me", "why did you stop texting me?", "if I unsubscribe…") or
     a time qualifier follows it ("don't text me before 9am": a preference, not a revocation).

   A bare "stop" in an otherwise delighted message ("Stop! That's amazing news 😂") and anything said in
   jest ("… jk") or while asking to stay subscribed ("I accidentally unsubscribed") is not an opt-out; nor
   is a request scoped to another channel or person ("unsubscribe me from the emails only", "unsubscribe my
   daughter"), nor a statement asked as a question with more said ("this is spam? no way, I signed up").
3. A whole message one key from an opt-out keyword ("stoop", "altp") when nothing else matched.

Missing an opt-out is a violation and a false one silences a customer; both are measured on a labelled
corpus (``tests/data/optout_corpus.tsv``: a development part the rules were tuned on, and a held-out part
they were not)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from proto.keywords import AFFIRM, HELP, OPT_IN, OPT_OUT, Language, keyword_of
from services.compliance.keywords.classifier import ALONE_FROM, GUARDS, VETO_BELOW, features, probability
from services.compliance.keywords.index import _TAIL_RX, RULES
from services.compliance.keywords.normalize import _POSITIVE_EMOJI, _neighbours, _one_edit, clauses, normalise
from services.compliance.keywords.plain import _LEAD_RX, _spanish, plain_language
from services.compliance.keywords.vocab import _ONLY_FILLER

Intent = Literal["opt_out", "opt_in", "affirm", "help"]
Source = Literal["keyword", "plain_language", "campaign_keyword"]

__all__ = ["NONE", "RULES", "Campaign", "Classified", "classify", "clauses", "keyword_of", "normalise"]


@dataclass(frozen=True)
class Classified:
    intent: Intent | None
    source: Source | None = None
    keyword: str = ""
    """The normalised keyword (STOP, YES, ALTO...) for a keyword match."""
    rule: str = ""
    """What matched: the keyword, or the name of the plain-language rule."""
    language: Language = "en"
    """The language the contact wrote in: the reply is sent in it."""


NONE = Classified(intent=None)


@dataclass(frozen=True)
class Campaign:
    """A campaign's own keywords (folded with ``keyword_of``) for texts to one of its numbers."""

    opt_out_keywords: frozenset[str] = frozenset()
    help_keywords: frozenset[str] = frozenset()
    opt_in_keywords: frozenset[str] = frozenset()


def _misspelt_keyword(kw: str) -> str | None:
    """The opt-out keyword a whole message misspells by one key ("STOOP", "UNSUBSCRIBR", "CANCLE", "DETENRE"): a
    letter doubled, two swapped, or a neighbouring key hit; for keywords of six letters or more also one dropped
    or added. Short keywords take no drops or additions ("END" is one key from "SEND" and "AND"), and the short
    Spanish ones only a doubled letter (one key from ALTO, PARA, BAJA lie "alot", "Lara", "pata", "bala")."""
    if not 4 <= len(kw) <= 14 or not kw.isalpha() or kw in _REAL_KEYWORD_LOOKALIKES:
        return None
    word = kw.lower()
    for target, language in OPT_OUT.items():
        t = target.lower()
        if len(t) < 4 or abs(len(t) - len(word)) > 1:
            continue
        if len(word) == len(t) + 1 and any(word == t[:i] + t[i] + t[i:] for i in range(len(t))):
            return target  # doubled
        if len(t) < 6 and language == "es":
            continue
        if len(word) != len(t) and len(t) >= 6 and _one_edit(word, t):
            return target  # dropped or added
        if len(word) == len(t):
            diff = [i for i in range(len(t)) if word[i] != t[i]]
            if len(diff) == 1 and word[diff[0]] in _neighbours(t[diff[0]]):
                return target  # a key next to it
            if len(diff) == 2 and diff[1] == diff[0] + 1 and word[diff[0]] == t[diff[1]] and word[diff[1]] == t[diff[0]]:
                return target  # swapped
    return None


_REAL_KEYWORD_LOOKALIKES = frozenset(("ATOP", "STOOL", "PARAS", "PARS", "ALTOS", "CANCELS", "QUITE", "QUITS", "REVOKED",
                                      "PARES", "BAJAS", "ENDS", "STOPS"))
"""Whole messages one key from a keyword that are words in their own right (left to the rules)."""
_NEW_PHONE_WHO = re.compile(r"^(?:hi |hey |um |uh )?new (?:number|phone number|cell number|#|num) (?:who (?:dis|this|"
                            r"is this|is that|dat|are you|r u|is it)|who dis)(?: sorry)?$")
""""New number, who dis": the number has changed hands, the consent was someone else's. ("New phone, who dis" is
the contact who lost their contacts: not an opt-out.)"""


def _rules(text: str, kw: str, parts: list[str]) -> Classified:
    """What the rules make of a text that is no keyword: a plain-language or misspelt opt-out, or nothing."""
    if _NEW_PHONE_WHO.match(" ".join(parts)):
        return Classified("opt_out", "plain_language", "", "new_number_who_dis", "en")
    found = plain_language(text, parts)
    if found is not None:
        return Classified("opt_out", "plain_language", "", found[0], found[1])
    misspelt = _misspelt_keyword(kw)
    if misspelt is not None:
        return Classified("opt_out", "keyword", misspelt, misspelt, OPT_OUT[misspelt])
    return NONE


def _help_with_filler(parts: list[str]) -> Classified:
    """"help please", "ayuda por favor": a help keyword with only filler around it."""
    meaningful = [p for p in parts if not _ONLY_FILLER.match(p)]
    if len(meaningful) == 1:
        word = keyword_of(_TAIL_RX.sub("", _LEAD_RX.sub("", meaningful[0])))
        if word in HELP:
            return Classified("help", "keyword", word, word, "es" if HELP[word] == "es" or
                              _spanish(meaningful[0]) else "en")
    return NONE


def classify(text: str, campaign: Campaign | None = None) -> Classified:
    """What an inbound text asks for. Keywords (the carriers', the campaign's) decide alone; a plain-language
    or misspelt opt-out found by the rules stands unless the model is nearly sure it is none; the model alone
    finds an opt-out the rules missed only when it is very sure and no guard (jest, delight, another channel,
    a mistaken recipient) is up."""
    kw = keyword_of(text)
    if campaign is not None and kw:
        if kw in campaign.opt_out_keywords and kw not in OPT_OUT:
            return Classified("opt_out", "campaign_keyword", kw, kw)
        if kw in campaign.help_keywords and kw not in HELP:
            return Classified("help", "campaign_keyword", kw, kw)
        if kw in campaign.opt_in_keywords and kw not in OPT_IN:
            return Classified("opt_in", "campaign_keyword", kw, kw)
    return _classified(text, kw)


@functools.lru_cache(maxsize=4096)
def _classified(text: str, kw: str) -> Classified:
    """What the carriers' keywords, the rules and the model make of a text: pure in the text, and asked
    twice of nearly every text within moments (inbound's screening, then the keywords consumer), at about
    0.1 ms a time for a sentence — so the last few thousand answers are kept."""
    for table, intent in ((OPT_OUT, "opt_out"), (OPT_IN, "opt_in"), (AFFIRM, "affirm"), (HELP, "help")):
        if kw in table and not (intent == "opt_out" and any(ch in _POSITIVE_EMOJI for ch in text)):  # "😂 stop"
            return Classified(intent, "keyword", kw, kw, table[kw])  # type: ignore[arg-type]
    parts = clauses(text)
    if not parts or sum(len(p) for p in parts) > 600:
        return NONE
    by_rules = _rules(text, kw, parts)
    feats = features(text, parts)
    p = probability(feats)
    if by_rules.intent is not None and p >= VETO_BELOW:
        return by_rules
    helped = _help_with_filler(parts)
    if helped.intent is not None:
        return helped
    if by_rules.intent is None and p >= ALONE_FROM and not feats & GUARDS:
        return Classified("opt_out", "plain_language", "", "model", "es" if _spanish(" ".join(parts)) else "en")
    return NONE
