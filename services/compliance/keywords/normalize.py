"""Normalising an inbound text before the rules and the model read it: folded, cut into clauses at punctuation
and emoji, contractions spelled out, shorthand and typos of the words the rules hinge on mended."""

from __future__ import annotations

import functools
import re

from proto.keywords import fold

_EMOJI_WORDS = {"\U0001f6d1": " stop ", "\u26d4": " stop ", "\U0001f6ab": " stop "}
_POSITIVE_EMOJI = frozenset("\U0001f602\U0001f923\U0001f60d\u2764\U0001f970\U0001f60a\U0001f601\U0001f606"
                            "\U0001f618\U0001f389\U0001f973\U0001f44f\U0001f64c\U0001f60d\U0001f3b6\U0001f3b5\U0001f3a4")
_CLAUSE_BREAK = re.compile(r"[^\w\s'\u2018\u2019\u02bc`#&/-]+|\s[-/]+\s|\s-+|-+\s|\n|_")
_APOSTROPHE = re.compile(r"['\u2018\u2019\u02bc`]")
_NON_WORD = re.compile(r"[^a-z0-9#&]+")

_SHORTHAND = {
    "u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "pleas": "please",
    "plse": "please", "plez": "please", "thx": "thanks", "thnx": "thanks", "ty": "thanks", "tks": "thanks",
    "txt": "text", "txts": "texts", "tx": "text", "txting": "texting", "txtin": "texting", "textin": "texting",
    "texing": "texting", "textng": "texting", "msg": "message", "msgs": "messages", "mesages": "messages",
    "messeges": "messages", "messags": "messages", "msges": "messages", "mssgs": "messages", "msging": "messaging",
    "msgng": "messaging", "msgin": "messaging", "stpo": "stop", "sotp": "stop", "tsop": "stop", "stopp": "stop",
    "sstop": "stop", "st0p": "stop", "stoppp": "stop", "rmv": "remove", "remvoe": "remove", "rmove": "remove",
    "cancle": "cancel", "cancell": "cancel", "dnt": "do not", "#": "number", "num": "number", "nomas": "no mas",
    "porfa": "por favor", "plis": "por favor", "pliss": "por favor", "pliz": "please", "porfavor": "por favor", "xfa": "por favor", "favr": "favor", "k": "ok", "okay": "ok",
    "kk": "ok", "staph": "stop", "ion": "i do not", "moar": "more", "fa": "favor", "w": "with", "id": "i would", "unsubscibe": "unsubscribe", "optout": "opt out", "optin": "opt in", "wtf": "what the fuck",
    "tf": "the fuck", "im": "i am", "ive": "i have", "youre": "you are", "wont": "will not",
    "cant": "can not", "cannot": "can not", "didnt": "did not", "doesnt": "does not", "dont": "do not",
    "isnt": "is not", "havent": "have not", "wouldnt": "would not", "shouldnt": "should not", "couldnt": "could not",
    "whats": "what is", "thats": "that is", "whered": "where did", "howd": "how did", "4": "for", "unscribe": "unsubscribe", "unsubscrib": "unsubscribe",
    "msj": "mensaje", "msjs": "mensajes", "mjs": "mensajes", "mensages": "mensajes", "mensage": "mensaje",
    "ekivocado": "equivocado", "ekibocado": "equivocado", "suscripsion": "suscripcion", "subscripsion": "suscripcion",
    "stp": "stop", "textn": "texting", "txtn": "texting", "sndng": "sending", "stfu": "shut the fuck up", "outta": "out of", "stahp": "stop", "stawp": "stop", "whos": "who is", "its": "it is", "&": "and", "n": "and",
}
"""Shorthand, contractions and frequent misspellings, word by word (contractions are spelled out, so the
rules read "do not" for don't, dont and do not alike)."""

_LONG_WORDS = ("unsubscribe", "unsubscribed", "subscription", "messaging", "contacting", "harassing", "harassment",
               "spamming", "bothering", "permission", "revocation", "withdraw", "consent", "interested", "uninterested")
"""Long words mended when one letter is off (inserted, dropped, replaced or two swapped): no English word
lies that close to them (but the few in ``_NEAR_LONG``)."""
_NEAR_LONG = frozenset(("scamming", "slamming", "consents", "consented", "content", "withdrew", "withdraws", "withdrawn",
                        "contents", "consort", "bothered"))


def _one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance exactly one (a swap of neighbours counts as one)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


_PLEASE = re.compile(r"ple+a*s+e+|pl+e+a+s+e*")
_STOOOP = re.compile(r"s+t+o+p+")


_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours(ch: str) -> str:
    """Keys next to ``ch`` on a QWERTY keyboard (the likeliest wrong key)."""
    for r, row in enumerate(_KEYBOARD):
        if ch in row:
            i = row.index(ch)
            near = row[max(0, i - 1):i] + row[i + 1:i + 2]
            for other in (r - 1, r + 1):
                if 0 <= other < len(_KEYBOARD):
                    near += _KEYBOARD[other][max(0, i - 1):i + 1]
            return near
    return ""


_TYPO_TARGETS = ("stop", "text", "texts", "texting", "message", "messages", "sending", "remove", "number", "wrong",
                 "leave", "alone", "away", "more", "cancel", "list", "unsubscribe", "spam", "equivocado", "mensajes")
"""Words the rules hinge on, mended when one key is off: dropped, doubled, swapped with its neighbour, or a
neighbouring key hit instead ("stpo", "wrng", "numbr", "alon", "snding", "srop")."""
_REAL_WORDS = frozenset((
    "step", "shop", "slop", "stoop", "top", "atop", "stops", "stomp", "strop", "stow", "sop", "sto", "test", "next",
    "tent", "tex", "tests", "tents", "nexts", "testing", "tenting", "sensing", "removed", "removes", "numbers",
    "wring", "wrongs", "leaves", "leaved", "sway", "aways", "mote", "mire", "moe", "mores", "cancels", "lost", "lust",
    "lists", "lit", "lis", "spa", "span", "spat", "scam", "swam", "slam", "sham", "spams", "lear", "alne",
    "massage", "mote", "sore", "core", "bore", "tore", "wore", "pore", "gore", "lore", "mode", "mole", "move", "mare",
    "lisa", "lisp", "mist", "kist", "lint", "wrought", "ext", "tet", "teat", "teas", "toxt", "list", "aloe", "lone",
    "ending", "eave", "lave", "ore", "pam", "sam", "way", "wong", "umber", "teats", "messaged", "numbed", "moore",
    "aline", "ist", "lits", "leve", "stol", "tects", "texs", "mors", "mord", "hore", "nore", "rong", "seding",
    "sening", "leafe", "leace", "remode", "menajes", "mensaje", "gore", "more",
))
"""Real words one key from a target: left as they are."""


def _typos() -> dict[str, str]:
    out: dict[str, str] = {}
    for target in _TYPO_TARGETS:
        variants = set()
        for i in range(len(target)):
            variants.add(target[:i] + target[i + 1:])  # dropped
            variants.add(target[:i] + target[i] + target[i:])  # doubled
            if i + 1 < len(target):
                variants.add(target[:i] + target[i + 1] + target[i] + target[i + 2:])  # swapped
            for near in _neighbours(target[i]):
                variants.add(target[:i] + near + target[i + 1:])  # wrong key
        for v in variants - _REAL_WORDS - set(_TYPO_TARGETS) - set(_SHORTHAND):
            if len(v) >= 3:
                out.setdefault(v, target)
    return out


_TYPOS = _typos()


def _skeleton(word: str) -> str:
    return "".join(c for c in word if c not in "aeiou")


_SKELETONS: dict[str, str] = {}
for _w in (*_TYPO_TARGETS, *_LONG_WORDS, "please", "contact", "contacting", "bothering", "sending", "texting",
           "messaging", "spamming", "unsubscribe", "remove", "number"):
    if len(_skeleton(_w)) >= 3 and _skeleton(_w) not in ("mr", "lst", "spm"):
        _SKELETONS.setdefault(_skeleton(_w), _w)
"""Hinge words with their vowels dropped ("txtng", "sndng", "nmbr", "rmv"): a word with no vowel is read as the
hinge word it is the consonants of."""
_GERUNDS = frozenset(("texting", "sending", "messaging", "blowing", "hitting", "calling", "bothering", "bugging",
                      "spamming", "harassing", "contacting", "getting", "receiving", "playing", "emailing",
                      "pestering", "hounding", "reaching", "annoying", "opting", "unsubscribing"))
"""Gerunds whose final g is dropped in speech ("blowin up my phone", "hittin my line")."""
_RUNS = re.compile(r"(\w)\1+")
_JOINED = re.compile(r"(stop|unsubscribe|remove|leave|optout)(it|this|that|now|texting|textingme|messaging|"
                     r"messagingme|sending|me|us|all|please|pls|spamming|sendingme|alone)$|(no)(more|mas|texts)$")
_DIGIT_LETTERS = str.maketrans({"0": "o", "3": "e", "1": "i", "5": "s"})
_DIGIT_TYPOS = frozenset(("stop", "out", "opt", "text", "texts", "texting", "remove", "unsubscribe", "me", "no", "alone",
                          "leave", "optout"))
"""Words a digit may stand in for a letter in ("st0p", "0ut"); "5pm" stays a time."""


@functools.lru_cache(maxsize=65_536)
def _mend(word: str) -> str:
    if word in _SHORTHAND:
        return _SHORTHAND[word]
    if _PLEASE.fullmatch(word):
        return "please"
    if _STOOOP.fullmatch(word) and word != "stoop":
        return "stop"
    if word in _TYPOS:
        return _TYPOS[word]
    if len(word) >= 3 and word.isalpha() and not any(v in word for v in "aeiou") and word in _SKELETONS:
        return _SKELETONS[word]  # "txtng", "sndng"
    if word.endswith("in") and word + "g" in _GERUNDS:
        return word + "g"  # "blowin", "hittin"
    if len(word) >= 7 and word not in _NEAR_LONG:
        for target in _LONG_WORDS:
            if word[0] == target[0] and _one_edit(word, target):
                return target
    if not word.isalpha() and not word.isdigit() and any(c.isalpha() for c in word):  # "0ut", "st0p"
        fixed = word.translate(_DIGIT_LETTERS)
        if fixed in _DIGIT_TYPOS or _TYPOS.get(fixed) in _DIGIT_TYPOS:
            return _mend(fixed)
    collapsed = _RUNS.sub(r"\1", word)  # "ALTOOO", "mee", "textingg"
    if collapsed != word and word not in _REAL_WORDS and (collapsed in _TYPO_TARGETS or collapsed in ("me", "alto", "baja", "no", "stop", "para",
                                                                                                     "porfa")):
        return collapsed
    joined = _JOINED.match(word)  # "stopit", "stoptexting", "nomore"
    if joined:
        head, rest = (joined.group(1), joined.group(2)) if joined.group(1) else (joined.group(3), joined.group(4))
        rest = {"textingme": "texting me", "messagingme": "messaging me", "sendingme": "sending me"}.get(rest, rest)
        return f"{_mend(head)} {_mend(rest) if ' ' not in rest else rest}"
    return word


_NEAR_STOP = frozenset(("sop", "top", "stoop", "sto", "stomp", "step", "stp"))
"""Real words one key from "stop", read as "stop" only before a verb of contacting ("sop texting me")."""
_CONTACT_VERBS = frozenset(("texting", "messaging", "sending", "contacting", "spamming", "bothering", "harassing"))


def normalise(text: str) -> str:
    """Folded words of one clause, single spaces, contractions spelled out and typos mended."""
    t = _APOSTROPHE.sub("", fold(text))
    words = [_mend(w) for w in _NON_WORD.sub(" ", t).split()]
    for i in range(len(words) - 1):
        if words[i] in _NEAR_STOP and words[i + 1] in _CONTACT_VERBS:
            words[i] = "stop"
    return " ".join(words)


_STARRED = re.compile(r"(?<=\w)\*+")


def clauses(text: str) -> list[str]:
    """The message cut at punctuation and emoji, each part normalised; empty parts dropped."""
    for emoji, word in _EMOJI_WORDS.items():
        text = text.replace(emoji, word)
    text = _STARRED.sub("", text)  # "f*** off", "sh*t"
    parts = (normalise(p) for p in _CLAUSE_BREAK.split(fold(text)))
    return [p for p in parts if p]
