"""Which rules can read a clause (pre-selected by the first words a rule can begin with), and whether a rule
matches a clause once negations, quotes, jokes and qualifiers around the match are weighed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from re import _constants as _C  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

from services.compliance.keywords.rules_en import EN_RULES
from services.compliance.keywords.rules_es import ES_RULES
from services.compliance.keywords.vocab import _FILLER, _NEGATED, _QUALIFIED, _QUOTED, _TAIL, _THREAT, _Rule

RULES: tuple[_Rule, ...] = EN_RULES + ES_RULES
"""Every plain-language rule, English first."""


def _first_words(items: list[tuple[Any, Any]], started: bool = False) -> set[str] | None:
    """How a match of the parsed pattern ``items`` can begin: its first word ("stop ", ending in a space) or the
    letters it surely begins with ("equivoc" before ``\\w*``); "" when it can begin otherwise. ``started``:
    letters were read already (an anchor now ends the word)."""
    i = 0
    while i < len(items):
        op, av = items[i]
        if (op is _C.AT or op in (_C.ASSERT, _C.ASSERT_NOT)) and not started:  # \b, ^, (?<=...) before the first letter
            i += 1
            continue
        if op is _C.LITERAL and chr(av).isalpha():
            rest = _first_words(items[i + 1:], True)
            return None if rest is None else {chr(av) + r for r in rest}
        if (op is _C.LITERAL and chr(av) == " ") or op is _C.AT:  # the word ends here
            return {" "} if started else {""}
        if op is _C.IN and av == [(_C.CATEGORY, _C.CATEGORY_SPACE)]:
            return {" "} if started else {""}
        if op is _C.SUBPATTERN:
            return _first_words(list(av[-1]) + items[i + 1:], started)
        if op is _C.BRANCH:
            out: set[str] = set()
            for alt in av[1]:
                got = _first_words(list(alt) + items[i + 1:], started)
                if got is None:
                    return None
                out |= got
            return out
        if op in (_C.MAX_REPEAT, _C.MIN_REPEAT):
            low, _, body = av
            with_body = _first_words(list(body) + items[i + 1:], started)
            if low > 0 or with_body is None:
                return with_body
            without = _first_words(items[i + 1:], started)
            return None if without is None else with_body | without
        return {""}
    return {" "} if started else {""}


_Index = dict[str, frozenset[int]]


def _index(rules: tuple[_Rule, ...], anchored: bool) -> tuple[_Index, frozenset[int]]:
    """Which rules can match a clause, by the first letters of its words: a clause is read only by the rules
    one of its words can begin a match of (each rule would otherwise scan every clause). An anchored rule
    begins after the clause's leading filler, so its own first words are indexed."""
    by_stem: dict[str, set[int]] = {}
    always: set[int] = set()
    for n, rule in enumerate(rules):
        if rule.anchored != anchored:
            continue
        stems = _first_words(list(_parser.parse(rule.core if anchored else rule.pattern.pattern)))
        if stems is None or "" in stems:
            always.add(n)
            continue
        for stem in stems:
            by_stem.setdefault(stem, set()).add(n)
    return {k: frozenset(v) for k, v in by_stem.items()}, frozenset(always)


_INSIDE, _INSIDE_ALWAYS = _index(RULES, anchored=False)
_WHOLE, _WHOLE_ALWAYS = _index(RULES, anchored=True)
_STEM_LENGTHS = sorted({len(k) for k in (*_INSIDE, *_WHOLE) if not k.endswith(" ")})
_FILLER_WORDS = frozenset(w for f in _FILLER[3:-1].split("|") for w in f.split())


def _hits(index: _Index, words: Iterable[str], found: set[int]) -> None:
    for word in words:
        hit = index.get(word + " ")  # a rule's first word
        if hit is not None:
            found |= hit
        for n in _STEM_LENGTHS:  # a rule's first letters (before a wildcard)
            if n > len(word):
                break
            hit = index.get(word[:n])
            if hit is not None:
                found |= hit


def _candidates(clause: str) -> list[_Rule]:
    words = clause.split()
    leading = []  # an anchored rule's first word: the clause's first, or one after leading filler
    for word in words:
        leading.append(word)
        if word not in _FILLER_WORDS:
            break
    found = set(_INSIDE_ALWAYS | _WHOLE_ALWAYS)
    _hits(_INSIDE, set(words), found)
    _hits(_WHOLE, leading, found)
    return [RULES[n] for n in sorted(found)]
_ES_NEGATED = re.compile(r"\b(?:no|nunca|por que)\s$")
_TAIL_RX = re.compile(_TAIL)
_THIRD_PARTY = re.compile(r"\b(?:tell|telling|told|ask|asking|asked|want|wants|get|make|remind|reminded)\s(?:my|his|her|"
                          r"our|their)\s\w+\s(?:to\s)?$")
"""The clause is about someone else being told to stop ("I keep telling my son to stop texting at dinner")."""


def _rule_match(rule: _Rule, clause: str) -> bool:
    for m in rule.pattern.finditer(clause):
        before, after = clause[: m.start()], clause[m.end():]
        if not rule.anchored:
            if _THIRD_PARTY.search(before):  # "I keep telling my son to stop texting at dinner"
                continue
            if _NEGATED.search(before) and not _THREAT.search(before) and \
                    not (before.endswith("keep ") and m.group(0).startswith(("telling", "asking", "saying"))):
                continue
            if rule.language == "es" and _ES_NEGATED.search(before) and \
                    not m.group(0).startswith("no "):
                continue
            if rule.not_after is not None and rule.not_after.search(before):
                continue
            if _QUOTED.search(before) or _QUALIFIED.match(after):
                continue
        return True
    return False
