"""A statistical second opinion on opt-outs: a logistic regression over the normalised words, word pairs and
triples, character 4-grams of the longer words (typos, Spanish endings), words under a negation, and the guards
the rules use (jest, delight, another channel, a mistaken recipient, a question).

It is trained by ``train.py`` from the labelled corpora shipped with the tests and its weights ship as
``weights.json`` (nothing is downloaded or trained at run time). ``classify`` combines it with the rules
conservatively: a rule's plain-language match stands unless the model is nearly sure it is not an opt-out
(``VETO_BELOW``), and the model alone calls an opt-out only when it is very sure and no guard is up
(``ALONE_FROM``). Both thresholds were chosen by cross-validation on the development corpora, with the rules as
they stood before each fresh batch (see README, "Opt-out understanding")."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from services.compliance.keywords.normalize import _POSITIVE_EMOJI
from services.compliance.keywords.plain import _CHANNEL, _FOR_THE_LOVE, _MISTAKEN
from services.compliance.keywords.vocab import _JEST, _POSITIVE

WEIGHTS = Path(__file__).with_name("weights.json")
ALONE_FROM = 0.9
"""The model alone calls a text an opt-out from this probability (when no guard is up)."""
VETO_BELOW = 0.1
"""A plain-language rule's match is not an opt-out when the model gives it less than this."""

_NEGATORS = frozenset(("not", "never", "no", "nunca", "without", "ni"))
_NEGATION_REACH = 3
"""Words after a negator marked as negated ("do not want these texts" -> ``n:want``, ``n:these``, ``n:texts``)."""


def _clause_features(words: list[str], out: set[str]) -> None:
    negated = 0
    for w in words:
        out.add("w:" + w)
        if negated:
            out.add("n:" + w)
            negated -= 1
        if w in _NEGATORS:
            negated = _NEGATION_REACH
        if len(w) >= 4:
            padded = f"#{w}#"
            out.update("c:" + padded[j:j + 4] for j in range(len(padded) - 3))
    seq = ["<s>", *words, "</s>"]
    out.update(f"b:{seq[i]} {seq[i + 1]}" for i in range(len(seq) - 1))
    out.update(f"t:{seq[i]} {seq[i + 1]} {seq[i + 2]}" for i in range(len(seq) - 2))


GUARDS = frozenset(("g:jest", "g:channel", "g:mistaken", "g:delight", "g:wants"))
_WANTS = re.compile(
    r"^(?!.*\b(?:not|no|never|nunca|stop|quit|cancel|remove|unsubscribe|why)\b).*\b(?:more (?:texts|messages|mensajes)|"
    r"send (?:me )?(?:more|the|it)|keep (?:them|sending|texting|me|these)|(?:want|like|love|need|enjoy) (?:these|the|"
    r"your|them|more|getting|receiving)|add (?:me|us)|sign (?:me|us) up|(?:text|message|call|email) (?:me|us)|"
    r"i consent|agreguen\w*|manden|envien|escriban|mandenme|escribanme|envienme)\b")
"""The contact asks for texts ("more texts to this number please", "I like these", "agréguenme"), with no
negation or stop word anywhere in it."""


def guards(text: str, parts: list[str]) -> set[str]:
    """The guards up in a text: said in jest, delighted, moved to another channel, sent to us by mistake, asking
    for texts."""
    whole = " ".join(parts)
    up = set()
    if _JEST.search(whole):
        up.add("g:jest")
    if any(_CHANNEL.search(p) for p in parts):
        up.add("g:channel")
    if _MISTAKEN.search(whole):
        up.add("g:mistaken")
    if _POSITIVE.search(_FOR_THE_LOVE.sub("", whole)) or any(ch in _POSITIVE_EMOJI for ch in text):
        up.add("g:delight")
    if _WANTS.search(whole):
        up.add("g:wants")
    return up


def features(text: str, parts: list[str]) -> set[str]:
    """The model's features of a text and its normalised clauses (``clauses(text)``)."""
    out: set[str] = set()
    words = 0
    for p in parts:
        ws = p.split()
        words += len(ws)
        _clause_features(ws, out)
    out.add(f"len:{words}" if words < 8 else "len:long" if words < 20 else "len:vlong")
    out.add(f"clauses:{min(len(parts), 3)}")
    if "?" in text:
        out.add("q")
    if not parts:
        out.add("empty")
    out |= guards(text, parts)
    return out


def _load() -> tuple[dict[str, float], float]:
    data = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    return data["weights"], float(data["bias"])


_WEIGHTS, _BIAS = _load()
"""Read once at import (~10 ms), not on the first inbound text."""


def logit(weights: dict[str, float], bias: float, feats: set[str]) -> float:
    return bias + sum(weights.get(f, 0.0) for f in feats)


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def probability(feats: set[str]) -> float:
    """How likely a text with these ``features`` is an opt-out, by the shipped model."""
    return sigmoid(logit(_WEIGHTS, _BIAS, feats))
