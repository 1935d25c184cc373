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
from collections.abc import Iterable
from dataclasses import dataclass
from re import _constants as _C  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any, Literal

from proto.keywords import AFFIRM, HELP, OPT_IN, OPT_OUT, Language, fold, keyword_of

Intent = Literal["opt_out", "opt_in", "affirm", "help"]
Source = Literal["keyword", "plain_language", "campaign_keyword"]

__all__ = ["NONE", "Campaign", "Classified", "classify", "clauses", "keyword_of", "normalise"]


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


# -- normalising -------------------------------------------------------------------------------------------

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


# -- vocabulary of the rules ----------------------------------------------------------------------------

def _alt(words: Iterable[str]) -> str:
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")"


_FILLER = _alt((
    "please", "now", "right now", "thanks", "thank you", "ok", "omg", "oh my god", "ugh", "seriously", "just",
    "already", "asap", "immediately", "again", "ffs", "what the fuck", "the fuck", "dude", "man", "bro", "hey",
    "hi", "hello", "yo", "sir", "maam", "for the last time", "i said", "i asked", "come on", "dammit", "damn",
    "god", "jesus", "no", "nope", "for real", "fr", "for good", "forever", "permanently", "fucking", "freaking",
    "sorry", "kindly", "hey there", "good bye", "goodbye", "bye", "for the love of god", "for the love of everything", "for the love of christ", "for gods sake",
    "for fucks sake", "for petes sake", "x", "thank u",
    "por favor", "porfa", "ya", "gracias", "favor", "ahora", "ahorita", "senor", "senora", "oiga", "hola",
    "de una vez", "muchas gracias", "jeez", "geez", "sheesh", "smh", "omfg", "bruh", "um", "umm", "ummm", "uh", "hmm", "erm",
))
_ONLY_FILLER = re.compile(rf"^(?:{_FILLER}\s?)+$")
_LEAD = rf"^(?:{_FILLER}\s)*"
_TAIL = rf"(?:\s{_FILLER})*$"

_STRONG = _alt(("stop", "stopall", "stop all", "unsubscribe", "unsub", "opt out", "revoke", "quit", "alto",
                 "detener", "detente", "basta"))
"""Words that are an opt-out as a clause of their own, next to other sentences ("who is this? stop")."""
_COMPANION = _alt(("it", "this", "that", "all", "them", "these", "sending", "texting",
                   "messaging", "all of it", "all of this", "this now", "all texts", "me"))
_BARE_CLAUSE = re.compile(rf"{_LEAD}{_STRONG}(?:\s(?:{_STRONG}|{_COMPANION}))*{_TAIL}")
_WEAK = _alt(("cancel", "end", "remove", "stop", "quit", "unsubscribe", "revoke", "opt out", "spam",
              "end all", "cancel all", "cancel it all", "remove me", "no more", "enough", "no more texts",
              "alto", "para", "parar", "pare", "baja", "cancelar", "detener", "detente", "basta", "ya basta",
              "no mas", "dar de baja", "darme de baja", "desuscribir", "desuscribirme", "paren", "alto ya",
              "para ya", "ya para", "baja ya", "discontinue", "reported", "blocked", "blocking you", "cancela", "cancelen", "unfollow", "block", "eliminar",
              "borrar", "quitar", "eliminame", "borrame", "quitame", "bajame", "remove me from list", "dnc",
              "blocked and reported", "reported and blocked", "no contact", "no texts", "no text", "no messages",
              "no sms", "no texting", "no more contact", "i am out", "wrong no", "cancel it", "ya no quiero", "halt",
              "remove it", "count me out", "stop everything", "stop everything please", "this is annoying", "so annoying", "annoying", "bloqueado", "bloqueada",
              "reportado", "reportada", "denunciado", "cease", "cease all", "cancel everything", "cancel this service",
              "cancel the service", "cancel service", "cancel my service", "cancelar el servicio", "cancelar servicio",
              "junk", "spam alert", "cancelar todo", "cancelarlo todo", "cancelen todo", "cancela todo", "baja definitiva", "de baja", "delete", "terminate", "end it", "end this", "end them", "stop it all", "terminate all", "enough already",
              "enough is enough",
              "delete me", "unsolicited", "unwanted", "not wanted", "can you not", "could you not", "forget i exist", "forget about me"))
_WHOLE_MESSAGE = re.compile(rf"{_LEAD}{_WEAK}{_TAIL}")
"""Words that are an opt-out only as the whole message ("Cancel." yes, "Cancel my 2pm" no)."""

_ME = r"(?:me|us|my (?:number|phone|cell|cellphone|mobile|line|phone number|cell number)|this (?:number|phone|line)|here)"
_MSG = _alt(("text", "texts", "messages", "message", "sms", "smss", "text messages", "notifications", "notification",
             "alerts", "text alerts", "promos", "promo", "promotions", "ads", "advertisements", "spam", "reminders",
             "updates", "marketing", "marketing messages", "offers", "deals", "coupons", "emails", "stuff", "crap", "links", "donation requests", "requests for money", "fundraising", "solicitations",
             "junk", "garbage", "shit", "bs", "nonsense", "things", "sms messages", "texting", "messaging",
             "communication", "communications", "contact"))
_DET = _alt(("these", "those", "this", "that", "the", "your", "all", "all of", "all your", "all of your", "all the",
             "all these", "any", "any more", "anymore", "more", "further", "future", "such", "any of these",
             "any of your", "any of the", "my", "every", "all those", "so many", "constant", "any more of your",
             "more of your", "any more of", "more of", "any more of these"))
_ADJ = _alt(("appointment", "reminder", "notification", "alert", "update", "stupid", "annoying", "damn", "dumb", "fucking", "freaking", "frickin", "effing", "bloody", "spam",
             "spammy", "promotional", "marketing", "automated", "random", "constant", "endless", "daily", "useless",
             "unwanted", "unsolicited", "text", "sms", "weekly", "same", "scam", "fake", "bullshit", "idiotic",
             "political", "campaign", "election", "fundraising", "donation", "survey", "sales", "robot", "robo",
             "automatic"))
_MSG_OBJ = rf"(?:{_DET}\s){{0,2}}(?:{_ADJ}\s){{0,2}}{_MSG}\b"
_THIS = _alt(("these", "those", "this", "them", "that", "this crap", "this shit", "this nonsense", "this stuff",
              "all this", "all of this", "these things"))
_CONTACTING = _alt((
    "texting", "messaging", "sending", "contacting", "spamming", "bothering", "harassing", "pestering", "bugging",
    "hounding", "calling and texting", "texting and calling", "hitting me up", "blowing up my phone", "smsing",
    "hitting up", "blowing up", "hitting my line", "hitting my phone", "hitting up my phone", "hitting up my line",
    "emailing", "sending texts", "sending messages", "sending me texts", "sending me messages", "annoying",
    "reaching out", "reaching out to", "blowing up my line", "asking me for money", "asking for money",
    "asking for donations", "asking me for donations", "begging for money", "begging me for money", "begging",
    "being annoying", "being a pest", "being so annoying", "advertising to", "advertising", "marketing to", "soliciting",
))
_STOP_VERB = _alt(("stop", "quit", "cease", "end", "halt", "discontinue", "please stop", "stop all", "terminate",
                   "refrain from", "desist from"))
_LIST = (rf"(?:(?:{_DET}|ur|you)\s)?(?:(?:texting|text|sms|mailing|marketing|contact|messaging|subscriber|distribution|"
         rf"email|call|calling|promo|promotional|phone|mass|sms marketing|text message|campaign|donor|volunteer|"
         rf"supporter|political|fundraising|contact|customer)\s)?"
         rf"(?:list|lists|database|system|records|contacts|program|texts|messages|sms|texting|it|this|these|thing|"
         rf"crap|stuff|garbage|"
         rf"everything|all|service|alerts|subscription)\b")

_NEGATED = re.compile(
    r"(?:\b(?:do not|does not|did not|never|can not|could not|will not|would not|should not|not|no need to|"
    r"why|how come|did you|when did you|what if i|if i|what happens if|what happens when|keep|to keep|"
    r"stopped|i love it when you)\s(?:(?:ever|you|please|to|guys|just|yall|really|i|even|would|should|do|does|did|"
    r"will|we|they|want|wanna|need|mean|like|have)\s)*$)")
"""A rule's match is refused when the clause before it ends like this ("don't stop texting me")."""
_THREAT = re.compile(r"\b(?:if you do not|why (?:will not|do not|can not|would not) you|if you|unless you|or i will|or else|i want you to|i need you to|"
                     r"you need to|you have to|can you|could you|would you|will you|you can|please)\s$")
"""...unless it is a demand ("if you don't stop texting me...", "can you stop texting me")."""
_QUALIFIED = re.compile(
    r"^\s(?:before|after|until|till|til|during|while|at (?:work|night|school|\d\w*)|in the (?:morning|evening|night|"
    r"afternoon)|on (?:weekends?|sundays?|saturdays?|mondays?|weekdays|the weekend|whatsapp)|so (?:early|late|much)|"
    r"from (?:renewing|auto renewing|renewal|emails?|the newsletter|newsletters?)|link|button|page|option|url|"
    r"box|shipment|renewal|order|payment|charge|billing|plan|fee|left|available|remaining|in stock|and drive|early|"
    r"at (?:dinner|lunch|breakfast|the table|church|the movies)|to (?:stop|end|go away|be stopped|be canceled)|"
    r"and get a refund|for a refund|"
    r"in (?:my|the|your) (?:inbox|app|account|folder|email|cart|voicemail)|"
    r"and driving|while driving|"
    r"(?:me |us )?(?:from|of|on|to) (?:the |your |my |all |all your |ur )?(?:email|emails|e mail|newsletter|"
    r"newsletters|catalog|catalogs|paper|app|push|physical mail|snail mail|mail)\b|"
    r"(?:(?:the|those|these|my|your)\s)?(?:\w+\s)?to (?:my |the |your |his |her )?(?:(?:old|other|work|personal|previous|"
    r"former|second)\s)?(?:email|e mail|inbox|mailing address)|"
    r"(?:(?:the|those|these|my|your)\s)?(?:\w+\s)?to (?:my |the |his |her )(?:old|other|work|previous|former|second) "
    r"(?:number|phone|cell)|"
    r"(?:me |us )?(?:(?:the|your|all|any|more|those|these)\s)?(?:paper|physical|printed|mailed|emailed|email|e mail) ?"
    r"\w*(?! (?:and|or) (?:texts|messages|sms))|"
    r"this (?:early|late)|that (?:early|late)|today|tonight|tomorrow|yet|back|the (?:deals|coupons|codes?|link|"
    r"address|details|wrong|same)|wrong|i love)\b")
"""A time or object after the match that makes it a preference, not a revocation ("… before 9am")."""
_QUOTED = re.compile(r"\b(?:reply|text|txt|send|type|replied|texted)\s(?:stop|end|cancel|quit|unsubscribe)\sto\s$")
_JEST = re.compile(
    r"\b(?:jk|j k|just kidding|kidding|resubscribe|re subscribe|subscribe again|sign me back up|sign back up|"
    r"opt me back in|opt back in|opt in again|"
    r"(?:unsubscribed|opted out|stop|unsubscribe|replied|texted|sent|hit|pressed|typed|clicked)(?: \w+){0,3} "
    r"(?:by accident|by mistake)|accidentally|(?<!you )(?<!they )(?<!u )(?<! i )(?<!^i )(?<! we )(?<!^we )keep (?:them|these|texting|sending|"
    r"getting|me on|the texts|em|it|texts|messages|receiving)(?!\s(?:me\s)?and see what happens|\sup\b)|love (?:these|them|your|the) (?:texts|messages|deals)|"
    r"keep me\b(?!\s(?:from|out|off|away|awake|up))|bromeando|es broma|texts are fine|texting is fine|texts are ok|texts are okay|just text me|texts only|only want "
    r"texts|only texts|only text me)\b")
_POSITIVE = re.compile(
    r"\b(?:congrats|congratulations|amazing|hilarious|lol|lmao|lmfao|rofl|ha(?:ha)+|hehe|too kind|blush\w*|"
    r"love|awesome|wow|no way|funny|cute|sweet|great news|making me|so good|incredible|felicidades|the best|"
    r"too nice|so nice|so kind|adorable|made my day|flatter\w*|crazy|you are kidding|omg no|this is great|"
    r"that is great|so great|so happy|yay|woohoo|laughing|dying|ja(?:ja)+|je(?:je)+)\b")
"""Delight: a bare "stop" in such a message is an exclamation ("Stop! That's amazing news"), not an opt-out."""


@dataclass(frozen=True)
class _Rule:
    name: str
    language: Language
    pattern: re.Pattern[str]
    anchored: bool = False
    """Must be the whole clause (with filler around it), not a phrase inside it."""
    not_after: re.Pattern[str] | None = None
    """Refused when the clause before the match ends like this (besides the common negations)."""
    core: str = ""
    """The pattern without the filler around it (what the rule's first word is read from)."""


_DEMAND = (r"(?:\s(?:so|and|just|please|now))*\s(?:cancel it|cancel|stop|stop it|remove me|remove|delete me|unsubscribe|"
           r"unsubscribe me|opt me out|take me off|stop texting|stop texting me|bye|para|alto|baja)")
"""A demand an anchored rule's clause may close on ("I don't want this anymore cancel it")."""


def _r(name: str, language: Language, rx: str, anchored: bool = False, not_after: str = "") -> _Rule:
    return _Rule(name, language, re.compile(rf"{_LEAD}(?:{rx})(?:{_DEMAND})?{_TAIL}" if anchored else
                                            rf"\b(?:{rx})\b"), anchored,
                 re.compile(rf"(?:{not_after})\s$") if not_after else None, rf"(?:{rx})")


_ES_WHAT = (r"(?:mas|nada|mensajes|mensaje|textos|sms|recordatorios|avisos|actualizaciones|por favor|promociones|ofertas|spam|cosas|correos|esto|eso|"
            r"gracias|ya|a este numero|a mi numero|notificaciones|publicidad|anuncios|propaganda|tanto|tantos|tantas|"
            r"sus|tus|estos|los|nunca)")
"""What a Spanish "don't send" may be about and still be about the texts (not "no envíen el paquete")."""

RULES: tuple[_Rule, ...] = (
    # "stop sending me these", "quit texting me", "stop bothering me with these texts", "stop calling and texting"
    _r("stop_texting_me", "en", rf"{_STOP_VERB}\s{_CONTACTING}(?:\s{_ME})?(?:\s(?:{_MSG_OBJ}|{_THIS}))?"),
    # "stop the texts", "end these messages", "cancel text alerts", "cancel my subscription"
    _r("stop_the_messages", "en",
       rf"(?:{_STOP_VERB}|cancel|unsubscribe from|turn off|shut off|pause)\s(?:with\s)?{_MSG_OBJ}"),
    _r("no_such_texts", "en", rf"no\s(?:more\s)?(?:{_ADJ}\s){{1,2}}{_MSG}", anchored=True),
    _r("too_many_texts", "en", rf"(?:way\s|far\s)?too many {_MSG_OBJ}|(?:you|u) (?:text|message|send texts|send "
                               r"messages|are texting|are messaging|re texting|keep texting) (?:me )?(?:way |far |"
                               r"just )?too (?:much|often|many)"),
    _r("stop_then_sentence", "en",
       rf"^(?:{_FILLER}\s)*(?:stop|unsubscribe|stop it|stop now|stop texting|stop texting me)\s(?:this is|i am|i|"
       r"you are|you|we|who|it is|not|why|how|wrong|nobody|no one|whoever|leave|do not|never|this number)"),
    _r("stop_these", "en", r"(?:cancel|stop|end|quit)\s(?:these|them|those|all of these|all of this|this crap|this "
                           r"stuff|all these)", anchored=True),
    _r("cancel_subscription", "en",
       r"(?:cancel|end|terminate|stop|ending|canceling|cancelling|terminating|stopping)\s(?:my\s|the\s|this\s|your\s|"
       r"our\s)?(?:text\s|sms\s)?subscription"
       # "end my subscription to the premium plan": some other subscription
       rf"(?!\s(?:to|for|of|on)\s(?!{_MSG_OBJ}|{_LIST}|this\b|these\b|you\b))"),
    # "stop receiving these", "I'd like to stop getting texts"
    _r("stop_receiving", "en", rf"(?:stop|quit|cease)\s(?:receiving|getting)\s(?:{_MSG_OBJ}|{_THIS})"),
    # "don't text me", "do not contact me again", "never message this number", "do not text"
    _r("do_not_text_me", "en",
       rf"(?:do not|never|please do not|do not ever|never ever|(?:can|could|would|will) you (?:please )?not)\s"
       rf"(?:ever\s)?(?:text|message|sms|contact|spam|reach out to|reach out|"
       rf"bother(?=\s{_ME})|email|hit)(?>(?:\s{_ME})?)(?:\s(?:again|anymore|any more|ever again|up))*"
       # "don't text me the pin": something by text
       rf"(?!\s(?:the|a|an|my|his|her|their|that|those|it|what)\s(?!{_MSG}\b))"),
    # "don't send me any more texts", "don't send me anything else"
    _r("do_not_send", "en",
       rf"(?:do not|never|please do not)\s(?:ever\s)?send\s(?:{_ME}\s)?(?:(?:any more|anymore|more|anything|"
       rf"anything else|further|any)\b(?:\s{_MSG_OBJ})?|{_MSG_OBJ}|{_THIS})"),
    # "no more texts", "no more of these"
    _r("no_more_texts", "en", rf"no more\s(?:(?:of\s)?{_MSG_OBJ}|of\s{_THIS}(?=$|\s(?:please|thanks|thank you|stop|now|ok|"
                              r"already|ever|again|pls)\b))"),
    _r("want_the_texts_to_stop", "en", rf"(?:want|would like|like|need|wish) {_MSG_OBJ} to (?:stop|end|cease|go away)"),
    # "enough with the texts"
    _r("enough_texts", "en", rf"enough\s(?:with\s|of\s)?{_MSG_OBJ}"),
    # "remove me", "remove my number from your list", "delete my number", "lose my number"
    _r("remove_from_list", "en",
       rf"(?:be\s)?(?:remove|removed|taken|deleted|dropped|take|delete)\s(?:\d+\s){{0,4}}(?:from|off|off of|out of)\s"
       rf"{_LIST}|"
       # "remove it from your list": a list proper after the object, not "remove it from this order"
       rf"(?:remove|delete|take|drop)\s(?:it|this number|this|that|them|this phone|the number)\s(?:from|off|off of|out "
       rf"of)\s(?:(?:{_DET}|ur|you)\s)?(?:(?:texting|text|sms|mailing|marketing|contact|messaging|subscriber|"
       rf"distribution|call|calling|promo|phone|mass)\s)?(?:list|lists|database|system|records|contacts|program)\b"),
    _r("want_to_be_removed", "en", r"(?:want|like|wish|need|would like|love) to be (?:removed|unsubscribed|taken off|"
                                   r"opted out|deleted)(?=$|\s(?:please|thanks|now|asap)\b)"),
    _r("no_permission", "en", r"(?:you|u) (?:do not|no longer|will not|never|never had|did not|did not have|never got|"
                              r"never received|never asked for|never asked) (?:have |had |get |got )?(?:my |any |our )?"
                              r"(?:permission|consent)"),
    _r("knock_it_off", "en", rf"(?:knock it off|cut it out)(?:\s(?:with\s)?{_MSG_OBJ})?(?!\s(?:of|from)\b)"),
    _r("with_the_texts", "en", rf"(?:stop it|cut it|quit it|knock it off|enough|chill|cool it|ease up|lay off|easy|calm "
                               rf"down|relax) with {_MSG_OBJ}|cut (?:out )?{_MSG_OBJ}|enough with (?:this|all this|this crap|"
                               r"this shit|it|all of this)$"),
    _r("mind_not_texting", "en", r"(?:do you |would you |could you |can you )?mind not (?:texting|messaging|contacting|"
                                 r"sending|spamming)"),
    _r("legal_threat", "en",
       r"(?:(?:contact|call|calling|get|contacting|getting|talk to) (?:my )?(?:lawyer|attorney)|(?:i will|ill|i am going "
       r"to|i am gonna|gonna) sue(?!\s(?:the|my|his|her|their|a|an|him|them)\b)|see you in court|tcpa(?= violation| violations| lawsuit| claim| complaint|$)|(?:violat\w*|under|breaking|breaking the) (?:the )?tcpa|legal action|lawsuit|(?:call|calling|get|getting|contact|"
       r"contacting) (?:the )?(?:cops|police)|my (?:lawyer|attorney) (?:will|is going to|is gonna|would)|(?:call|calling|contact|contacting|complain to|complaining to|email|"
       r"emailing|write to|writing to|report (?:you|this|u) to|reporting (?:you|this|u) to) (?:the )?(?:fcc|ftc|"
       r"attorney general|better business bureau|bbb))"),
    _r("no_interest", "en", r"(?:i have |i have got |i got |i |we have )?(?:no|lost|lost all|zero) interest(?: in (?:this|"
                            r"these|it|that|them|your \w+))?|(?:i am |we are )?not buying anything", anchored=True),
    _r("remove_alone", "en", r"(?:remove|remove me|remove us|delete me|take me off|unsubscribe me|remove her|remove him|"
                             r"remove them|remove this number|remove my number)", anchored=True),
    _r("rather_not", "en", rf"(?:rather|prefer|prefer to|like to) not (?:to )?(?:(?:get|receive|be getting|be receiving|"
                           rf"have|be sent) (?:{_MSG_OBJ}|these|them|any)|be (?:contacted|texted|messaged|bothered))"
                           rf"(?!\s(?:before|after|at|on|in|during|until|by|about)\b)|prefer no {_MSG}"),
    _r("do_not_send_alone", "en", r"(?:do not|never|please do not) send(?: me)?(?: anything| anymore| any more| more|"
                                  r" again)?", anchored=True),
    _r("remove_me", "en",
       rf"(?:remove|delete|erase|lose|forget|scratch|wipe|purge|scrub|forget you ever had|forget you have)\s(?:{_ME}|"
       rf"(?:all (?:of )?)?my (?:name|info|information|details|"
       r"contact info|data)|(?:his|her|their) (?:number|phone number|cell|info))"
       rf"(?:\s(?:from|off|out of|off of)\s{_LIST})?(?!\s(?:from|off|out|of|to|in|at|on|as|and add)\b)"),
    # "take me off your list", "get me off this list", "please take me off"
    _r("take_me_off", "en",
       rf"(?:take|took|taking|get|got|drop|dropped|cross|kick)\s(?:{_ME}|my (?:name|info|number))\s(?:off|out of|off of|"
       r"from|of)"
       rf"(?:\s{_LIST})?(?=$|\s(?:please|now|thanks|thank you|asap|already|immediately|for good|permanently|"
       rf"forever|right now|too|as well|again)\b)"),
    # "put me on your do not text list"
    _r("do_not_contact_list", "en",
       rf"(?:(?:put|add|place)\s{_ME}|(?:want|like|need|wish) to be(?: put| added| placed)?)\s(?:on|to)\s(?:(?:your|the|a)\s)?(?:do not (?:call|text|contact|disturb)|dnc|"
       rf"no (?:text|call|contact))"),
    # "unsubscribe me", "I want to opt out", "how do I unsubscribe", "I unsubscribed last week and..."
    _r("unsubscribe", "en", r"(?:unsubscribe|unsubscribed|unsubscribing|opt out|opting out|opted out|opt me out|"
                            r"opt us out|unsub|opt (?:this number|this phone|my number|my phone|this line) out)"
                            # "unsubscribe my daughter", "unsubscribe my old number": somebody else
                            r"(?!\s(?:my (?:old|other|previous|former|work|second|wife|husband|son|daughter|kid|kids|mom|"
                            r"dad|mother|father|sister|brother|friend|partner|child|children|family|employee)|him|her)\b)"
                            # "I unsubscribed from spotify": from something else
                            rf"(?!\s(?:from|of) (?!{_LIST}|{_MSG_OBJ}|you\b|u\b|here\b|ur\b|everything\b|receiving\b|getting\b|being\b|"
                            r"this number\b|your company\b)\w)"),
    # "I revoke my consent", "I withdraw my consent", "I no longer consent"
    _r("revoke_consent", "en",
       r"(?:(?:revoke|revoking|withdraw|withdrawing|rescind|cancel|take back)\s(?:my\s|all\s|any\s)?"
       r"(?:consent|permission|authorization|opt in)|(?:no longer|do not|never)\s(?:consent|agree to this)|"
       r"i revoke(?=$|\s(?:my|all|any|consent|permission|it|this)\b)|"
       r"(?:my |all |any )?(?:consent|permission|authorization) (?:is |is hereby |hereby |has been )?(?:revoked|withdrawn|"
       r"rescinded)|(?:revocation|withdrawal) of (?:my |all |any )?(?:consent|permission)|"
       r"(?:did not|have not|never|do not) (?:give |gave |ever give )?(?:consent|consented|agree|agreed)(?= to (?:receive|"
       r"get|be|being|these|this|them|any|your|text|texts|messages|sms|marketing|you)\b)|"
       r"no consent(?: (?:was )?given| to (?:text|contact|message))?$)"),
    # "wrong number", "you have the wrong person"
    _r("wrong_number", "en", r"(?:wrong|incorrect|not the right|not the correct) (?:number|person|phone|cell|guy|girl|contact|"
                             r"phone number)(?!\s(?:on|in|for(?! whoever| who| the person| that person| them| him| her)|"
                             r"listed|of|at|format|was|is)\b)",
       not_after=r"\bi (?:gave|give|entered|typed|put|used|provided|sent|texted|text|dialed|dial|called|call|had|have|got|"
                 r"wrote)"
                 r"(?:\s\w+){0,3}"),
    # "I never signed up for this", "I never gave you permission to text me"
    _r("never_signed_up", "en",
       r"(?:never|did not|have not|never ever)\s(?:sign(?:ed)? up|subscribed?|opt(?:ed)? in|agreed?|consented?|"
       rf"(?:ask(?:ed)? (?:for|to get|to receive)|request(?:ed)?) (?:{_MSG_OBJ}|this|these|them|that|it|any of this)|"
       r"(?:gave|give|shared|share|provided|provide|gave out) (?:you |anyone )?(?:my number|permission|consent|my consent))(?=$|\s(?:for|to)\s(?:any of this|any of these|any of it|any of your|any|this|these|them|it|anything|receive|get|be|your|text|texts|"
       r"messages|sms|alerts|marketing|a list|any list)\b|\s(?:with you|stop|please)\b)"),
    # "how did you get my number"
    _r("nobody_asked", "en", rf"(?:nobody|no one|noone) (?:asked|signed up) for (?:{_MSG_OBJ}|this|these|them|your)"),
    _r("who_sold_you_my_number", "en", r"who (?:gave|gave out|sold|shared|leaked|passed|passed on|handed out) (?:you |yall |"
                                       r"you guys |out |on )?(?:my|this) (?:number|phone number|cell|cell number|info|"
                                       r"contact info)"),
    _r("how_did_you_get_my_number", "en",
       r"(?:how|where) (?:did|do|would) (?:you|you guys|you people|yall) (?:get|got|find|obtain) (?:my|this) "
       r"(?:number|phone number|cell|cell number|contact|info)|"
       r"(?:why|how come) (?:do|does) (?:you|yall|you guys|you people|this company|your company) (?:even )?have (?:my|this) "
       r"(?:number|phone number|cell|cell number|contact|info)|"
       r"who gave (?:you|yall|you guys|you people) (?:my|this) (?:number|phone number|cell|cell number|contact|info)"),
    # "leave me alone", "go away", "fuck off"
    _r("leave_me_alone", "en", r"leave (?:me|us|my phone|this phone|my number|this number) (?:the fuck |the hell )?"
                               r"(?:alone|be)"),
    _r("why_am_i_still_getting_these", "en",
       rf"why (?:am i|do i|are we|do we|is this number|does this number) (?:(?:(?:still|keep|always|even) )+(?:getting|"
       rf"receiving) (?:{_MSG_OBJ}|these|this|them)|(?:getting|receiving) (?:{_MSG_OBJ}|these$|them$|all these))"),
    _r("block_anchor", "en",
       r"(?:(?:you have been|you are|you re|you been|number|this number|your number|sender|you got) "
       r"(?:blocked|reported)(?: and (?:reported|blocked))?)|"
       r"(?:i am |i have |i will |just )?(?:deleting and |reporting and )?(?:blocking|blocked|block)(?: (?:you|this "
       r"number|this|u|your number|it|now|the number))?(?: (?:and|&) (?:reporting|deleting|reported|deleted))?",
       anchored=True),
    _r("why_are_you_texting_me", "en",
       r"why (?:(?:are|do|is|the fuck are|tf are|does) )?(?:you|this number|yall|you guys|you people|someone) (?:keep |still |"
       r"always )?(?:texting|messaging|contacting|sending|spamming|text|message|contact)(?: me| this number|$)"),
    _r("you_are_spamming_me", "en", r"(?:you are|you re|youre|u r|ur|you keep|u keep|you have been|you been) "
                                    r"(?:spamming|harassing|bothering|bugging|pestering) (?:me|us|my phone|this number)"),
    _r("no_longer_their_number", "en",
       r"(?:this|that|my) (?:number|phone|cell|line)(?: number)? (?:does not|do not|no longer|is not|is no longer) "
       r"(?:belong|belongs|belonging) to (?:\w+|that person|the person|him|her|them|who you think)"),
    _r("no_es_de_esa_persona", "es",
       r"(?:este|ese|mi|el) (?:numero|telefono|celular)(?: ya)? no es (?:de|del) (?:esa persona|\w+|la persona)|"
       r"no (?:es|soy) (?:el|la) (?:dueno|duena|persona) de (?:este|ese) numero|"
       r"(?:ya )?no es (?:el )?(?:numero|telefono|celular) de \w+|"
       r"(?<=\w )(?:ya )?no (?:tiene|usa) (?:este|ese) (?:numero|telefono|celular)"),
    _r("person_is_not_here", "en",
       r"(?:the person|whoever|the guy|the lady|the one|who) (?:you are|you re|you)\s?(?:want|looking for|trying to reach|"
       r"texting|need|think you are texting|are after)(?: is| are)? (?:not|no longer) (?:here|at this number|"
       r"reachable here|with this number)|"
       r"(?<!\bi )(?<!\bwe )(?<!\byou )(?<=\w )(?:does not|do not|no longer) (?:have|has|own|owns|use|uses) (?:this|that) "
       r"(?:number|phone|cell)(?= anymore| any more|$)|"
       r"(?:this|that) (?:is not|is no longer) (?:\w+s|his|her|their) (?:phone|number|cell)(?: number)?"
       r"(?= anymore| any more|$)"),
    _r("not_my_number", "en", r"(?:this is |that is |it is |sorry |this |that )?not (?:my|our) (?:number|phone|cell|phone "
                              r"number|cell number)(?: anymore| any more)?(?:\s(?:please|so)?\s?(?:update|fix|change|correct)"
                              r" your (?:records|list|system|contacts|database))?", anchored=True),
    _r("changed_their_number", "en",
       r"(?<=\w )(?:changed|switched|gave up|got rid of|no longer has) (?:his|her|their) (?:number|phone "
       r"number|cell number)(?=$|\s(?:this|so|and|please|stop|wrong|years|months|a while)\b)|"
       r"(?:i am|we are) the new (?:owner|holder|user|owners) of this (?:number|phone|line)|"
       r"the number (?:you are|you re|u r) (?:texting|messaging|contacting|trying to reach) (?:is not|does not belong to|"
       r"is no longer|no longer belongs to)|"
       r"(?:this|that) number (?:is )?no longer (?:belongs to|in service for|used by|assigned to) (?:that person|him|her|"
       r"them|\w+)"),
    _r("do_not_know_you", "en", r"(?:i )?do not know (?:you|who you are|this company|your company|you people|you guys|"
                                r"who (?:yall|you guys) are)(?=$|\s(?:stop|please|sorry|so|and|leave|bye)\b)"),
    _r("not_their_number", "en",
       r"(?:this|that) (?:number|phone|cell)(?: number)? (?:is not|does not belong to|is no longer) (?:\w+s|his|hers|"
       r"theirs|yours)$"),
    _r("a_different_person", "en", r"(?:you|u) (?:want|need|have|are looking for|are after|are trying to reach|are "
                                   r"texting|got) (?:a different|another|some other|the wrong|someone else|somebody else)"
                                   r"(?: (?:person|number|guy|girl|lady|man|woman|contact))?(?=$|\s(?:sorry|please|not|"
                                   r"this|i|stop)\b)"),
    _r("not_allowed_to_text_me", "en",
       r"(?:you|u) (?:may not|are not allowed to|re not allowed to|are not permitted to|have no right to|do not have "
       r"the right to|are not authorized to|have no permission to) (?:text|message|contact|sms|call or text|text or "
       r"call|send texts to|send messages to)(?: me| this number| us| my number)?(?=$|\s(?:again|anymore|any more|ever|"
       r"please|stop)\b)"),
    _r("number_belongs_to_someone_else", "en",
       r"(?:this|that|my) (?:number|phone|phone number) (?:belongs to|is) (?:someone else|somebody else|a different "
       r"person)|not (?:the (?:person|one|guy|girl|lady|man|woman)|who) (?:you are|you re|youre|you) (?:looking for|"
       r"trying to reach|after|texting|want|think)"),
    _r("should_not_get_these", "en",
       rf"(?:i|we|this number|this phone|my number|this line) (?:should not|should never|am not supposed to|is not "
       rf"supposed to|are not supposed to) (?:be )?(?:getting|receiving|get|receive) (?:{_MSG_OBJ}|these|this|them)|"
       r"not a number (?:you|u) should be (?:texting|messaging|contacting)|(?:you|u) should not be (?:texting|messaging|"
       r"contacting) (?:me|this number|us)|why (?:is|am|are) (?:this number|my number|i|we) (?:on|in) (?:this|your|the|ur) "
       r"(?:list|texting list|database|system)"),
    _r("not_a_customer", "en", r"(?:i have|i got|we have) no (?:business|dealings|account|relationship) with (?:you|your "
                               r"company|you guys|yall)|(?:i have |i )?never been (?:a|your|one of your) (?:customer|client|patient)|"
                               r"(?:i )?do not (?:even )?have an account (?:with|at) (?:you|your company|you guys|yall)|"
                               r"(?:i am|we are) not (?:your|a|one of your) (?:customer|client|patient)|never (?:did|done|"
                               r"do) business with (?:you|your company)|never (?:bought|ordered|shopped) (?:anything )?"
                               r"(?:from|with|at) (?:you|your)"),
    _r("cease", "en", r"cease (?:and desist|all (?:communication|communications|contact|messages|texts)|"
                      r"communication|contact|contacting)"),
    _r("do_not_call_registry", "en", r"(?:on|in|violating|violate|violation of|breaking) (?:the )?(?:national )?(?:do not call|dnc|do not text) (?:list|registry)"),
    _r("appreciate_if_you_stopped", "en", r"(?:appreciate|prefer|like) (?:it )?if (?:you|u) (?:stopped|would stop|could "
                                          r"stop|quit|stop|did not|do not|no longer) (?:texting|messaging|contacting|text|"
                                          r"message|contact|sending)"),
    _r("want_off_the_list", "en", r"(?:(?:i|we) (?:want|would like|would love|need|wanna|would rather be)|let (?:me|us)|"
                                  r"(?:i|we) (?:want|need) to get) off (?:this|your|the|ur|of this|of your|all your|all) "
                                  r"(?:list|lists|texts|messages|texting list|mailing list)"),
    _r("landline", "en", r"(?:this is|this number is|it is|that is|you are texting) a (?:landline|land line)|"
                         r"texting a (?:landline|land line)"),
    _r("no_contact", "en", r"(?:i want |we want |i would like |i need )?no (?:more |further |additional |future )?"
                           r"(?:contact|communication|communications|ads|advertising|advertisements|marketing|promotions|"
                           r"promos|solicitations|solicitation|texts|messages|text messages|sms)",
       anchored=True),
    _r("harto_de_mensajes", "es",
       r"(?:odio|detesto) (?:sus |tus |estos |los |esos |recibir )?(?:mensajes|textos|sms|promociones|publicidad)|"
       r"(?:son|estan) (?:muy |bien |super |demasiado )?(?:molestos|fastidiosos|pesados|insoportables) (?:sus|estos|los|"
       r"tus) (?:mensajes|textos)|(?:sus|estos|los|tus) (?:mensajes|textos) (?:son|estan) (?:muy |bien |super )?(?:molestos|"
       r"fastidiosos|pesados|insoportables)|"
       r"(?:harto|harta|hartos|hartas|cansado|cansada|cansados|fastidiado|fastidiada|me canse|nos cansamos|que fastidio|"
       r"que molestia|que lata|que pesados|"
       r"(?:me|nos) tienen (?:harto|harta|hartos|cansado|cansada|hasta la madre)) (?:de|con) (?:sus |tus |los |estos |"
       r"tantos |tanto |recibir |tanta )?(?:mensajes|mensaje|textos|sms|promociones|publicidad|spam|ofertas|"
       r"notificaciones)"),
    _r("nunca_mas_me_escriban", "es",
       r"(?:nunca|jamas) (?:mas )?(?:me |nos )?(?:escriban|envien|manden|contacten|molesten|escribas|mandes|envies|"
       r"vuelvan a \w+)|no vuelvan a (?:\w+ ni )?(?:escribir|enviar|mandar|contactar|molestar|textear)|"
       r"(?:ya )?no quiero saber (?:nada(?= de (?:ustedes|usted|ti|su empresa|esto|su compania)|$)|de (?:ustedes|usted|ti|"
       r"su empresa|su compania))"),
    _r("sick_of_texts", "en", rf"(?:sick|tired|fed up|had it|had enough) (?:of|with) (?:{_MSG_OBJ}|you|getting|receiving|your|this|these)"),
    _r("texts_are_annoying", "en",
       rf"{_MSG_OBJ}\s(?:(?:are|is)\s(?:so\s|really\s|very\s|getting\s)?(?:annoying|spam|harassment|unwanted|"
       r"unsolicited|too much|excessive|ridiculous|out of control|getting old|a nuisance|not wanted)|not wanted)"),
    _r("go_away", "en", r"(?:go away|get lost|buzz off|back off|shoo|go to hell|drop dead|shut up|shut the fuck up|"
                        r"scram|take a hike|bug off|shove off|get outta here|get out of here|"
                        r"get (?:off|out of) my phone)", anchored=True),
    _r("fuck_off", "en", r"(?:fuck off|f off|eff off|piss off|bugger off|sod off|fuck you|fuck u|screw off|screw you)"),
    # "this is spam", "reported as spam", "I'm reporting this number"
    _r("spam", "en", r"(?:this is|is|its|you are|such|more)?\s?(?:spam|spammer|spammers|harassment|a scam|junk|"
                     r"junk message|junk text)",
       anchored=True),
    _r("es_spam", "es", r"(?:esto es|es|son|puro|pura|esto es puro|(?:(?:los |lo |te |les |la )?(?:reporte|reportare|"
                        r"reportamos|marque|marcare|denuncie)|reportado|reportada|reportando|reporto|"
                        r"denunciado|marcado) como)\s(?:spam|acoso|basura|estafa)", anchored=True),
    _r("report", "en",
       r"(?:(?:report|reported|reporting|flagged|flagging|blocking|blocked)\s(?:you|this|this number|it|your number|"
       r"the number)?\s?(?:as|for|to the|to) (?:spam|junk|harassment|ftc|fcc|the ftc|the fcc|attorney general|"
       r"police|the police|bbb|my carrier)|(?:file|filing|filed|lodge|lodging) (?:a )?complaint|(?:forward|forwarded|"
       r"forwarding|sent|sending|reported|reporting) (?:this |it |your text |these )?to (?:7726|spam|my carrier))"),
    # "if you text me again I'm calling the police"
    _r("threat", "en", rf"if (?:you|anyone) (?:text|message|contact|send)\s(?:{_ME}\s)?(?:again|one more)|"
                       r"keep (?:texting|messaging|contacting) (?:me )?and see what happens|(?:text|message) me one more "
                       r"time$|one more (?:text|message) and"),
    _r("last_warning", "en", r"(?:this is (?:your|my) )?(?:last|final) warning", anchored=True),
    _r("ugh_these_texts", "en", rf"(?:ugh|argh|omg|god|seriously|wtf|smh|ffs|jfc|ugh more)\s(?:(?:{_DET})\s)?(?:{_ADJ}\s)?"
                                rf"{_MSG}", anchored=True),
    # "not interested", "no thanks, not interested"
    _r("not_interested", "en",
       r"(?:no thanks\s|no thank you\s|no\s)?(?:i am\s|am\s|we are\s)?(?:not|no longer|not really|un|dis) ?interested(?:\s(?:at all|anymore|any more|in any of (?:this|it|these|that|them|your \w+)|in anything|in "
       rf"(?:receiving |getting )?(?:this|these|that|it|them|your (?:texts|messages|offers|services|products|deals)|"
       rf"{_MSG_OBJ})))?", anchored=True),
    _r("do_not_want_this", "en",
       r"(?:i\s)?(?:do not|really do not)\s(?:want|need)(?:\s(?:this|it|this service|your service|these|any of this|"
       r"any of it))?(?:\s(?:anymore|any more))?", anchored=True),
    _r("i_want_to_stop", "en", r"(?:i|we)\s(?:want|would like|need|wish) to (?:stop|unsubscribe|opt out|be done)",
       anchored=True),
    _r("told_you_no", "en", r"(?:i\s)?(?:already\s)?(?:told you|said|answered|replied)\s(?:no|not interested|stop)"
                            r"(?:\s(?:already|before|twice))?", anchored=True),
    _r("turn_them_off", "en", rf"turn\s(?:{_MSG_OBJ}|these|them|those)\soff"),
    _r("get_off_the_list", "en",
       r"(?:get|be)\s(?:me\s|us\s)?(?:off|out of|removed from)\s(?:this|your|the|ur)\s(?:list|texts|messages|"
       r"texting list)|(?:get|be)\s(?:me\s|us\s)?removed(?=$|\s(?:please|now|asap)\b)"),
    _r("stop_these_at_the_end", "en", r"(?:stop|end|cancel)\s(?:these|them|those|all of these)(?=$)"),
    _r("whoever_you_are_trying_to_reach", "en", r"whoever (?:you are|you re|youre) (?:trying to reach|looking for|texting)"),
    # "I don't want these texts", "I no longer want to receive texts", "I don't want to be contacted"
    _r("never_want_to_hear_from_you", "en", r"never want to hear from (?:you|your company|this number|yall|you guys|you people)|"
                                            rf"(?:i\s)?(?:hate|despise|can not stand|loathe) (?:getting |receiving )?{_MSG_OBJ}"),
    _r("do_not_want", "en",
       rf"(?:i\s)?(?:do not|no longer|really do not|do not really)\s(?:want|wish|need|like)\s(?:to (?:receive|get|be "
       rf"getting|keep getting|be receiving|have|continue receiving|continue getting|keep receiving|continue to "
       rf"receive|continue to get)\s|you to send\s)?(?:{_MSG_OBJ}|these|them|to be (?:contacted|texted|"
       rf"messaged|bothered)|to hear from (?:you|your company|this number|yall|you guys)|to be on (?:your|this|the|any|ur) (?:list|"
       rf"texting list|mailing list|sms list|contact list))"),
    _r("want_my_number_removed", "en", r"(?:want|need|would like) (?:my number|my info|my name|me|this number|my phone "
                                       r"number) (?:removed|deleted|taken off|off)"),
    _r("done_with_texts", "en", rf"(?:done|over) with (?:{_MSG_OBJ}|you|your texts)(?=$|\s(?:please|stop|now|already|"
                                r"thanks)\b)"),
    _r("over_these_texts", "en", rf"(?:i am|we are)\s(?:(?:so|really|totally|just|all|completely)\s)*(?:over|done with|"
                                 rf"through with|finished with)\s(?:{_MSG_OBJ}|these|them|you guys|all of this|this crap|"
                                 r"these texts)(?=$|\s(?:please|stop|now|already|thanks|bye|so)\b)"),
    # "I'm not interested please stop", "I asked you to stop", "stop or I'll block you"
    _r("please_stop", "en", r"(?:please|so|just|now|kindly|and|ok|so please|then)\s(?:stop|stop it|stop now|"
                               r"unsubscribe|stop texting|stop texting me)$"),
    _r("asked_you_to_stop", "en", r"(?:asked|told|tell|said|say|saying|telling|asking|texted|replied|typed)\s(?:(?:you|"
                                  r"your (?:bot|robot|system|agent|company|people|team|rep|ai)|ur bot|yall|you guys|"
                                  r"you people)\s)?"
                                  r"(?:(?:\w+ times|so many times|many times|multiple times|repeatedly|before|already|"
                                  r"twice|again|nicely|politely)\s)?"
                                  r"(?:to be (?:removed|taken off|unsubscribed|deleted)|to be left alone|"
                                  r"(?:to\s)?(?:stop|unsubscribe|remove me)(?!\s(?:by|in|over)\b))"),
    _r("block", "en", r"(?:(?:or|else)\s(?:i will|i am going to|i am gonna|i ll|ill)\s(?:block|report)|(?:i am|i will|i"
                      r" have|going to|gonna|ill|i ll)\s(?:block|blocking|blocked|report|reporting)\s(?:you|this|"
                      r"this number|your number|it|u))"),
    _r("i_want_out", "en", r"(?:i|we)\swant (?:out|off)(?:\sof\s(?:this|these|here|it|your list|the list))?", anchored=True),
    _r("get_you_to_stop", "en",
       r"(?:get|make|convince) (?:you|yall|you guys|you people|u) (?:to )?stop|"
       r"(?:do|should|will|must) (?:i|we) (?:(?:need to|have to|just|really) )*(?:block|report) (?:you|this number|u|yall|"
       r"you guys|you people)|"
       r"(?:continue|keep it up|keep this up|keep going|one more) and (?:you are|you will be|you re|you get|i am|i will|ill|"
       r"i ll) (?:blocked|reported|reporting|blocking|report|block)|(?:stop|quit)(?: \w+){0,3} or else$"),
    _r("does_not_want_texts", "en",
       rf"(?:we|they|this number|this person|this phone|my (?:wife|husband|son|daughter|mom|dad|client|company|"
       rf"business|office|family)|our (?:company|business|office|family|household|team|firm)|the company|he|she)\s"
       rf"(?:does not|do not|no longer)\s(?:want|wish|need)\s(?:to (?:receive|get)\s)?(?:{_MSG_OBJ}|these)"),
    _r("no_one_here_by_that_name", "en", r"(?:no one|nobody|noone)\s(?:here\s|at this number\s)?(?:by|with|named|"
                                         r"called)\s(?:that|this)\s(?:name)|(?:there is |there are )?(?:no one|nobody|"
                                         r"noone) (?:here |at this number )?(?:named|called|by the name(?: of)?) \w+$|"
                                         r"i do not know (?:any|anyone named|anybody named|anyone called|a|an) "
                                         r"(?!(?:of|that|this|it|more|better|one|body|thing|way|other|who|what|"
                                         r"where|when|how|why|yet)\b)\w+$"),
    # "how do I stop these", "how do I get off this list"
    _r("how_do_i_stop_these", "en",
       rf"how (?:do|can|would|should|could) (?:i|we) (?:stop|end|turn off|block|cancel|get rid of|opt out of|"
       rf"unsubscribe from|unsubscribe to|make) (?:{_MSG_OBJ}|these|them|this list|receiving|getting)(?: stop)?|"
       rf"how (?:do|can|would|should|could) (?:i|we) (?:get|be|get taken|get removed) (?:off|out of|removed from) "
       rf"{_LIST}"),
    _r("report_spam", "en", r"(?:report|reported|reporting|mark|marked|marking|flag|flagged|flagging)(?: (?:it|this|you|"
                            r"u))?(?: as)? (?:spam|junk)", anchored=True),
    # -- Spanish --------------------------------------------------------------------------------------
    _r("no_me_envien", "es",
       r"no (?:me |nos )?(?:(?:envien|envies|envie|enviar|manden|mandes|mande|mandar|escriban|escribas|escriba|"
       r"mandeis|envieis|escribais|contacteis|molesteis|"
       r"contacten|contactes|textees|texteen|vuelvan a (?:escribir|enviar|mandar|contactar|molestar|textear)|vuelvas a "
       rf"(?:escribir|enviar|mandar|contactar|molestar|textear))(?=$|\s{_ES_WHAT}\b|\s(?:nunca|jamas)\b)|"
       r"(?:vuelvan|vuelvas|vuelva) a (?:escribir|enviar|mandar|contactar|molestar|textear|llamar)(?:me|nos)|molesten|molestes|moleste|molestar|"
       r"contactarme|escribirme|enviarme|mandarme|molestarme|textearme)(?:\s(?:mas|nada|mensajes|textos|por favor))*"),
    _r("dejen_de_enviar", "es",
       r"(?:deja|dejen|deje|dejad|para|paren|pare|parar|dejar|detengan|deten|basta|favor de dejar|dejenme|dejame|stop|"
       r"dejeme)\sde\s(?:pedir(?:me|nos)? (?:dinero|donaciones|donativos)|(?:enviar|mandar|escribir|contactar|textear|"
       r"mensajear)(?:me|nos|le)\b|molestar(?:me|nos)?|(?:enviar|"
       rf"mandar|escribir|contactar|textear|mensajear)(?=$|\s{_ES_WHAT}\b))"),
    _r("no_quiero_que_me_escriban", "es",
       r"(?:no|ya no) (?:quiero|deseo) que (?:me|nos) (?:sigan )?(?:escriban|envien|manden|contacten|molesten|llamen|"
       r"textee|texteen|escribas|envies|mandes|contacte|escriba|envie|mande|llame|moleste)"),
    _r("prefiero_no_recibir", "es",
       r"(?:prefiero|preferiria|preferimos|quisiera|prefeririamos) (?:no recibir|que no me (?:envien|manden|escriban|"
       r"contacten|molesten))(?: (?:mas|sus|estos|los))? ?(?:mensajes|textos|sms|nada|promociones|publicidad)?"),
    _r("no_quiero_este_servicio", "es", r"(?:ya )?no (?:quiero|necesito|deseo) (?:este|su|el|tu|ese) servicio(?: de "
                                        r"(?:mensajes|textos|sms))?", anchored=True),
    _r("por_que_me_siguen", "es", r"(?:por que|y|pero|todavia|aun|ustedes) (?:me |nos )?(?:siguen|sigue|continuan|continua) "
                                  r"(?:llegando|escribiendo|mandando|enviando|molestando|contactando|textando|texteando)|"
                                  r"(?:sigo|seguimos|todavia|aun) (?:recibiendo|me llegan) (?:sus |estos |los )?(?:mensajes|"
                                  r"textos)|(?:pedi|dije|solicite|les pedi|les dije|pedimos) que me (?:quitaran|sacaran|"
                                  r"borraran|eliminaran|dieran de baja|dejaran de)"),
    _r("marquenme_como_no_contactar", "es",
       r"(?:marquenme|marquen mi numero|marcarme|ponganme|pongan mi numero|agreguenme) (?:como|en la lista de|en) "
       r"(?:no contactar|no llamar|no molestar|no enviar|dado de baja|dada de baja|baja)"),
    _r("no_tengo_cuenta", "es",
       r"(?:nunca he sido|nunca fui|jamas he sido|jamas fui) (?:su |tu )?cliente|nunca (?:he comprado|compre|he hecho "
       r"negocios?) (?:nada )?(?:con|a|de) (?:ustedes|usted|su empresa|ti)|(?:ni siquiera|yo no|no) (?:tengo|tenemos) "
       r"(?:una |ninguna )?cuenta con (?:ustedes|usted|ti|su empresa)"),
    _r("no_quiero_mensajes", "es",
       r"(?:no|ya no|nunca)\s(?:quiero|deseo|necesito|me interesa|queremos|deseamos|necesitamos)\s(?:(?:recibir|mas|seguir recibiendo|que me "
       r"(?:envien|manden|escriban)|sus|tus|estos|esos|los|la|su|esta|esa|mi|ninguna|ningun|vuestros|vuestras)\s)*(?:mensajes|mensaje|"
       r"comunicacion|contacto|"
       r"textos|texto|sms|publicidad|anuncios|propaganda|recordatorios|avisos|actualizaciones|"
       r"notificaciones|promociones|ofertas|nada|suscripcion|subscripcion|spam|alertas)"),
    _r("no_mas_mensajes", "es", r"no mas (?:mensajes|mensaje|textos|texto|sms|notificaciones|promociones|spam|messages|"
                                r"publicidad|anuncios|propaganda|"
                                r"message|texts|text|mensajitos|whatsapps|correos|ofertas|llamadas)"),
    _r("detener_mensajes", "es",
       r"(?:detener|detengan|detenga|deten|parar|paren|cancelar|cancelen|alto a|stop|terminar|basta de|(?:parenle|"
       r"parale|ya parenle|parenle ya) con)\s"
       r"(?:los |estos |sus |tus |todos los )?"
       r"(?:mensajes|textos|sms|notificaciones|promociones|recordatorios|avisos|alertas|publicidad)"
       r"(?!\s(?:de|del)\s(?!texto|textos|mensajes|sms|promociones|ofertas|publicidad)\w)"),  # "alertas de fraude"
    _r("quiero_que_me_borren", "es", r"(?:quiero|queremos|necesito) que me (?:borren|quiten|saquen|eliminen|den de baja|"
                                     r"borres|quites|saques|elimines)(?=$|\s(?:de|del|por favor|ya|gracias|ahora)\b)"),
    _r("no_quiero_estar_en_su_lista", "es",
       r"no (?:quiero|deseo) (?:estar|seguir|permanecer|aparecer) en (?:su|tu|la|esta|sus|esa) (?:lista|listas|base de "
       r"datos|sistema)"),
    _r("quien_les_dio_mi_numero", "es",
       r"(?:quien|como|donde) (?:les|le|te) (?:dio|dieron|paso|pasaron|vendio|vendieron|compartio) (?:mi|este) "
       r"(?:numero|telefono|celular)|"
       r"(?:de donde|como) (?:sacaron|consiguieron|obtuvieron|tienen) (?:mi|este) (?:numero|telefono|celular)|"
       r"por que (?:tienen|tiene|tienes) (?:mi|este) (?:numero|telefono|celular)"),
    _r("quitenme_de_la_lista", "es",
       r"(?:(?:quitenme|quitame|quiteme|quitarme|sacame|saquenme|sacarme|borrenme|borrame|borrarme|eliminenme|bajame|"
       r"bajenme|olviden|olvidense de|olvidate de|olvida|"
       r"eliminame|eliminarme|borradme|quitadme|eliminadme|sacadme)(?:\s(?:de|del)\s(?:la |su |sus |esta |tu |esa |"
       r"vuestra |vuestras )?(?:lista|listas|base de datos|"
       r"sistema|mensajes|envios))?|(?:quiten|quitar|saquen|sacar|borren|borrar|eliminen|eliminar|borrad|quitad)\s"
       r"(?:mi numero|mi nombre|mis datos|este numero|mi telefono|este telefono|mi celular|este celular)|"
       r"(?:quiten|quitar|saquen|sacar|borren|borrar|eliminen|eliminar|quitennos|saquennos|borrennos|eliminennos|"
       r"bajennos)\s(?:de|del)\s(?:la |su "
       r"|sus |esta |tu |esa )?(?:lista|listas))"),
    _r("darme_de_baja", "es", r"(?:darme|dar|deme|denme|me doy|darnos|darse|dame|den|me dan|me den|me da|me pueden dar|"
                              r"me puede dar|me pueden|me puede)\sde baja"
                              # "dar de baja mi tarjeta vieja": something else
                              r"(?!\s(?:mi|la|el|una|un|los|las|su|mis|sus|este|esta)\s(?!(?:numero|suscripcion|telefono|"
                              r"celular|linea|mensajes|textos|sms)\b(?!\s(?:de|del)\s(?!mensajes|textos|sms))))"),
    _r("cancelar_suscripcion", "es",
       r"(?:cancelar|cancela|cancelen|anular|anulen|terminar)\s(?:la |mi |su |esta |los |mis )?(?:suscripcion|"
       r"subscripcion|mensajes|sms|notificaciones|alertas|textos|recordatorios|avisos|promociones)"
       r"(?!\s(?:de|del)\s(?!texto|textos|mensajes|sms|promociones|ofertas)\w)"),
    _r("numero_equivocado", "es",
       r"(?:numero (?:equivocado|incorrecto|erroneo)|(?:se )?equivoc\w* de (?:numero|persona))"
       r"(?!\s(?:en|de|del|para)\s(?:mi|la|el|su|tu|este|esta)\s)"),  # "número equivocado en mi factura"
    _r("dejame_en_paz", "es", r"(?:dejame|dejenme|deja|dejen|dejeme|dejennos|dejanos)\sen paz|no molestar"),
    _r("tengo_que_bloquearlos", "es",
       r"tengo que (?:bloquearlos|reportarlos|denunciarlos|bloquearte|reportarte|bloquear este numero|reportar este "
       r"numero)|\bo (?:los|te|les|lo) (?:reporto|bloqueo|denuncio|demando)"),
    _r("no_soy_cliente", "es", r"no soy (?:su |tu )?cliente(?: suyo| suya| de ustedes| de nadie)?", anchored=True),
    _r("no_soy_la_persona", "es", r"no soy (?:(?:la persona|quien|el|la) (?:que )?(?:buscan|busca|buscas|creen|cree)|"
                                  r"(?:esa|esta|la) persona)"),
    _r("nunca_me_suscribi", "es",
       r"(?:nunca|yo no|no|jamas) (?:me |les |le |te )?(?:suscribi|inscribi|registre|di mi numero|pedi|autorice|acepte|"
       r"solicite)\w*"
       r"(?=$|\s(?:esto|estos|estas|esta|a esto|a esta|a estos|nada|mensajes|sus|sms|textos|a sus|para)\b)"),
    _r("no_me_interesan_sus_mensajes", "es",
       r"(?:ya )?no (?:me|nos) interesa(?:n)? (?:(?:sus|tus|los|las|estos|estas|su|tu|esos|esas|nada de|la)\s)?(?:mensajes|"
       r"publicidad|propaganda|"
       r"promociones|ofertas|textos|servicios|productos|anuncios|promos)"),
    _r("no_conozco_a_esa_persona", "es",
       r"no (?:conozco|se quien es) (?:a )?(?:esa persona|ese senor|esa senora|ese nombre|nadie (?:con ese nombre|"
       r"llamad[oa] asi|que se llame asi))|(?:aqui no vive|aqui no hay|no vive aqui) (?:nadie|esa persona)"),
    _r("voy_a_reportar", "es",
       r"(?:voy a|vamos a|los voy a|te voy a|lo voy a|les voy a) (?:reportar|denunciar|bloquear|demandar)"
       r"(?:\s(?:este numero|su numero|esto|a ustedes|los|los mensajes))?|"
       r"(?:voy a|vamos a) (?:llamar|hablar|contactar) (?:a|con) (?:mi|un|una) (?:abogado|abogada)"),
    _r("no_me_interesa", "es", r"(?:no gracias\s)?(?:ya\s)?no (?:me|nos) interesa(?:n)?(?:\s(?:gracias|nada|mas|esto|eso|"
                               r"nada de esto|adios))*|"
                               r"(?:ya\s)?no (?:tengo|tenemos) (?:ningun\s)?interes(?:\s(?:gracias|en nada))?|"
                               r"(?:ya\s)?no (?:estoy|estamos) interesad[oa]s?(?:\s(?:gracias|en nada))?|"
                               r"no interesad[oa]s?|sin interes(?:\s(?:gracias|ninguno))?",
       anchored=True),
    _r("ya_dije_que_no", "es", r"(?:ya )?(?:les |te |le )?(?:dije|he dicho|dijimos|hemos dicho) que no(?: (?:gracias|me "
                               r"interesa|quiero))?", anchored=True),
    _r("ya_no", "es", r"(?:ya no|ya no mas|ya no quiero|ya no deseo)(?:\s(?:nada|mas|recibir nada))?", anchored=True),
    _r("ya_no_quiero_al_final", "es", r"(?:ya no (?:quiero|deseo)(?:\s(?:nada|mas|recibir nada|recibir mas))?|no (?:quiero|deseo) (?:nada|mas|"
       r"recibir nada|recibir mas))$"),
    _r("cambio_de_numero", "es", r"(?:el |ella |ya )?(?:ya )?(?:cambio|cambiaron) (?:de|su) numero", anchored=True),
    _r("no_es_mi_numero", "es", r"(?:(?:esta|es) equivocado el numero|(?:este )?no es mi numero|el numero (?:esta|es) "
                                r"equivocado$)|(?:este |ese )?no es el (?:numero|telefono) correcto"),
    _r("no_me_llegue_nada", "es", r"(?:ya )?no (?:quiero que )?(?:me |nos )?(?:llegue|lleguen) (?:nada|mas|ningun mensaje|"
                                  r"mensajes|ningun texto)"),
    _r("me_salgo_de_la_lista", "es", r"(?:me salgo|salirme|quiero salir|me quiero salir|sacarme|me doy de baja) (?:de|del) "
                                     r"(?:la|su|esta|sus|tu|vuestra) (?:lista|listas|programa|servicio de mensajes)"),
    _r("dejar_de_recibir", "es",
       r"(?:quiero|quisiera|deseo|me gustaria|necesito|favor de|como puedo|como hago para) dejar de recibir"
       r"(?:\s(?:sus|tus|estos|los|esos|mas))?\s(?:mensajes|mensaje|textos|sms|promociones|ofertas|notificaciones|"
       r"alertas|esto|estos)"),
    _r("ya_basta", "es", r"(?:ya basta|basta ya)(?:\s(?:de|con)\s(?:mensajes|textos|spam|promociones|sms|ofertas|esto|eso|"
                         r"molestar|publicidad))?(?!\s(?:de|con)\b)|basta (?:de|con) (?:mensajes|textos|spam|promociones|"
                         r"sms|ofertas|esto|eso|molestar|publicidad|anuncios|propaganda)"),
    _r("retiro_mi_consentimiento", "es",
       r"(?:retiro|revoco|cancelo|anulo|retirar|revocar|retiramos|revocamos) (?:mi |el |todo |cualquier |nuestro )?"
       r"(?:consentimiento|permiso|autorizacion)|"
       r"no (?:tienen|tiene|tienes) (?:mi |nuestro )?(?:permiso|consentimiento|autorizacion)|"
       r"(?:nunca|no|jamas) (?:les |le |te )?(?:di|dimos|he dado|hemos dado|doy|damos) (?:mi |nuestro )?(?:permiso|"
       r"consentimiento|autorizacion)|"
       r"no (?:autorizo|acepto|consiento|doy permiso)(?: (?:que|a que|para que))? (?:me |nos )?(?:envien|manden|"
       r"escriban|contacten|mensajes|textos)"),
    _r("paren_esto", "es", r"(?:detengan|detenga|paren|pare|para|cancelen|cancela|basta|terminen|alto a) (?:esto|todo "
                           r"esto|todo|ya todo)", anchored=True),
)


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


_NOT_BEFORE_STOP = frozenset((
    "the", "a", "an", "bus", "next", "last", "full", "pit", "one", "rest", "truck", "non", "end", "first", "second",
    "third", "final", "that", "this", "your", "my", "our", "their", "his", "her", "its", "each", "every", "train",
    "subway", "tram", "shuttle", "door", "glottal", "whistle", "request", "not", "never", "ever", "no", "cant",
    "wont", "dont", "didnt", "f", "quick", "short", "brief", "only", "to", "by",
))
"""Words before a closing "stop" that make it a noun ("the bus stop") or negate it ("it will not stop")."""
_ASKING = frozenset(("does", "did", "where", "what", "which", "is", "are", "should", "shall", "why", "was", "were"))
_CHANNEL = re.compile(r"^(?:just |please |but |ok )?(?:call|email|phone|whatsapp|dm) (?:me|us)(?: instead| please| "
                      r"there| on \w+)?$|\binstead\b|\b(?:text|message) (?:me )?here\b|^(?:i will|ill|i ll) (?:call|email)\b")
"""A clause that moves the conversation elsewhere: "don't text me, call me" asks for a call, not silence."""


_MISTAKEN = re.compile(r"\b(?:meant to (?:text|message|send)|meant for|my bad|ignore (?:that|this|my last)|"
                       r"sorry about that|oops|whoops|oopsie|era para|iba para|me equivoque)\b")
"""The contact texted us by mistake ("sorry wrong person, meant to text my sister"): not about our texts."""
_PLAYFUL = frozenset(("knock_it_off", "stop_these", "go_away", "fuck_off", "stop_then_sentence"))
"""Rules that banter can say too ("lol cut it out", "stop these 😂"): not in a delighted message."""


def _ends_with_stop(part: str) -> bool:
    """A clause that closes on "stop" after something else ("not interested stop", "the texts need to
    stop", "make it stop"), unless "stop" is a noun there or negated, or the clause asks a question."""
    words = _TAIL_RX.sub("", part).split()
    if len(words) >= 3 and words[-1] in ("stop", "end") and words[-3] in ("will", "make", "gonna", "please", "ever",
                                                                          "not") and \
            (words[-2] in ("this", "it", "these", "them") or words[-3:] == ["not", "you", "stop"]):
        return True  # "when will this stop", "make it stop", "why won't this stop", "when will this end", "why won't you"
    if len(words) < 2 or words[-1] not in ("stop", "unsubscribe", "stopall"):
        return False
    if words[0] in _ASKING:
        return False
    if words[-2] == "to":  # "these texts need to stop", not "I need to stop" nor "I don't want the texts to stop"
        before = " ".join(words[:-2])
        return re.search(rf"\b(?:{_MSG}|these|this|it|them|you)\b", before) is not None and \
            re.search(r"\b(?:do not|does not|never|not|no longer) (?:want|wish|need|like|expect)\b", before) is None
    return words[-2] not in _NOT_BEFORE_STOP


_NOT_NAMED = re.compile(
    r"(?:\b(?i:this is not|this isn['\u2019]?t|i am not|i['\u2019]?m not|it['\u2019]?s not)\s+([A-Z][a-z]{1,15})"
    r"\s*(?:$|[,.;!]|\s(?i:wrong|sorry|you have|you got)\b)"
    r"|(?:^|[.!,]\s*)(?i:there['\u2019]?s\s+|there is\s+)?(?i:no)\s+([A-Z][a-z]{1,15})\s+(?i:here|at this number)\b"
    r"|\b(?i:do not|don['\u2019]?t|dont) know (?:(?i:any|anyone named|anybody named|a|an)\s+)?([A-Z][a-z]{1,15})\b"
    r"|^\s*(?i:not)\s+([A-Z][a-z]{1,15})\s*[.!]*\s*$"
    r"|(?:^|[.!,]\s*)(?i:no soy|yo no soy|aqu[ií] no (?:vive|hay|est[aá])(?: ning[uú]n| ninguna| nadie llamad[oa])?|"
    r"no conozco a(?: ning[uú]n| ninguna)?|no s[eé] qui[eé]n es)\s+"
    r"([A-Z][a-z]{1,15})\s*(?:$|[,.;!])"
    r"|(?:^|[.!,]\s*)(?i:el se[nñ]or|la se[nñ]ora|la se[nñ]orita|el sr\.?|la sra\.?)?\s*"
    r"([A-ZÁÉÍÓÚÑ][a-záéíóúñ]{1,15}) (?:(?i:ya no|no) (?i:vive|est[aá]|trabaja) (?i:aqu[ií]|en este n[uú]mero)|"
    r"(?i:ya )?(?i:cambi[oó]) (?i:de|su) (?i:n[uú]mero))\b"
    r"|(?:^|[.!,]\s*)([A-Z][a-z]{1,15})\s+(?:(?i:is not|isn['\u2019]?t|isnt|is no longer) (?i:at|on|reachable at) "
    r"(?i:this (?:number|phone))|(?i:has|got) (?i:a new (?:number|phone number)))\b"
    r"|(?:^|[.!,]\s*)([A-Z][a-z]{1,15})\s+(?i:does not|doesn['\u2019]?t|doesnt|no longer|never) (?i:lives?|stays?|works?) "
    r"(?i:here|at this (?:number|address))\b)")
"""The contact says it is not the person named ("This isn't Jessica", "No Jessica here"): a wrong number."""
_NOT_NAMES = frozenset(("I", "Sure", "Interested", "Ok", "Okay", "Yes", "No", "Home", "Available", "Ready", "Here",
                        "There", "Able", "Going", "Happy", "Sorry", "Done", "Mad", "Angry", "Upset", "Worried", "Free",
                        "Busy", "Sick", "The", "A", "An", "One", "Problem", "Worries", "Way", "Thanks", "Really",
                        "Yet", "Now", "Today", "Tomorrow", "Working", "Right", "Correct", "Open", "Closed", "Time",
                        "Spanish", "English", "French", "German", "Chinese", "Italian", "Portuguese", "More", "Other",
                        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January",
                        "February", "March", "April", "May", "June", "July", "August", "September", "October",
                        "November", "December", "Bad", "Good", "Much", "Yet", "Really", "Anything", "Anyone", "Why", "How", "What", "When",
                        "Where", "Who", "Which", "Exactly", "Quite", "Again", "Anymore", "Me", "Mine", "Him", "Her",
                        "Yo", "Nadie", "Cliente", "Esa", "Ese", "Ella", "Nada", "Su", "Tu", "La", "El", "Un", "Una"))


def _not_named(text: str) -> bool:
    if "?" in text:
        return False
    return any(n and n not in _NOT_NAMES for m in _NOT_NAMED.finditer(text) for n in m.groups())


def _spanish(text: str) -> bool:
    text = text.replace("see ya", "")
    return re.search(r"\b(?:por favor|porfa|gracias|mensajes|numero|ya|mas|quiero|senor|alto|para|parar|pare|"
                     r"ustedes|usted|esto|este|estos|hablo|soy|estoy|nada|aqui|nadie|molesten|conozco|ninguna|ningun|"
                     r"vive|quien|bloqueado|bloqueada|reportado|reportada|"
                     r"paren|baja|cancelar|detener|detente|basta|desuscribir\w*|no mas|eliminar|borrar|quitar|bajame|quitame|"
                     r"borrame|eliminame)\b", text) is not None


_LEAD_RX = re.compile(_LEAD)
_FOR_THE_LOVE = re.compile(r"for the love of \w+")
_PAREN = re.compile(r"^(?:(?:ya|por favor|porfa|ahora|ahorita|ya por favor|y)\s)*(?:paren|detengan|paren ya|paren de una "
                    r"vez|detenganse|parenle|parale|parenle ya|parale ya)(?:\s(?:ya|por favor|porfa|ahora|ahorita|de una vez|gracias))*$")
_STATEMENTS = frozenset(("spam", "es_spam", "wrong_number", "numero_equivocado", "no_contact", "no_such_texts"))
"""Rules that state something: asked as a question ("this is spam? no way", "¿número equivocado? creo que...") they
are not said (alone, "wrong number??" still is)."""


def _asked(text: str) -> frozenset[str]:
    """The clauses of ``text`` that close with a question mark."""
    asked = set()
    for piece in text.split("?")[:-1]:
        cut = clauses(piece)
        if cut:
            asked.add(cut[-1])
    return frozenset(asked)
_ENOUGH = re.compile(rf"{_LEAD}(?:enough|enough already|that is enough|ok enough|enough is enough){_TAIL}")
_MSG_RX = re.compile(rf"\b{_MSG}\b")


def plain_language(text: str, parts: list[str] | None = None) -> tuple[str, Language] | None:
    """The plain-language opt-out rule a text matches, and its language; None when it asks for nothing.
    ``parts``: the text's ``clauses``, when already cut."""
    parts = clauses(text) if parts is None else parts
    if not parts or sum(len(p) for p in parts) > 600:
        return None
    whole = " ".join(parts)
    if len(parts) > 1 and all(" " not in p for p in parts):  # "take. me. off.", "Stop. Texting. Me."
        parts = [whole, *(p for p in parts if _BARE_CLAUSE.match(p) or p in ("spam", "junk", "blocked", "reported"))]
    parts = [*parts, *(p.rsplit(" but ", 1)[1] for p in parts if " but " in p)]  # "not sure who this is but ..."
    if _JEST.search(whole):
        return None
    language: Language = "es" if _spanish(whole) else "en"
    elsewhere = any(_CHANNEL.search(p) for p in parts)
    mistaken = _MISTAKEN.search(whole) is not None
    mood = _FOR_THE_LOVE.sub("", whole)  # exasperation, not delight
    delighted = _POSITIVE.search(mood) is not None or any(ch in _POSITIVE_EMOJI for ch in text)
    # a statement asked as a question, when something else is said too ("this is spam? no way, I signed up")
    asked = _asked(text) if "?" in text and len([p for p in parts if not _ONLY_FILLER.match(p)]) > 1 else frozenset()
    for part in parts:
        for rule in _candidates(part):
            playful = rule.name in _PLAYFUL or "blowing up" in part  # "quit blowin up my phone lol I'm coming"
            if (rule.name == "do_not_text_me" and elsewhere) or (playful and delighted) or \
                    (rule.name in ("wrong_number", "numero_equivocado") and mistaken) or (rule.name in _STATEMENTS and part in asked):
                continue
            if _rule_match(rule, part):
                return rule.name, rule.language if rule.language == "es" else language
    if not delighted and any(_ends_with_stop(p) for p in parts):
        return "ends_with_stop", language
    if _not_named(text):
        return "not_the_person_named", language
    meaningful = [p for p in parts if not _ONLY_FILLER.match(p)]
    if len(meaningful) == 1 and _WHOLE_MESSAGE.match(meaningful[0]) and not delighted:
        return "keyword_with_filler", language
    if not delighted and any(_BARE_CLAUSE.match(p) for p in parts if p not in asked):
        return "stop_clause", language
    if not delighted and any(_PAREN.match(p) for p in parts):
        return "paren_clause", "es"  # "son demasiados mensajes, ya paren" (but "no paren": don't stop)
    if not delighted and len(meaningful) > 1 and any(_ENOUGH.match(p) for p in parts) and _MSG_RX.search(whole):
        return "enough_of_these", language  # "This is the 4th text today. Enough."
    return None


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


def classify(text: str, campaign: Campaign | None = None) -> Classified:
    kw = keyword_of(text)
    if campaign is not None and kw:
        if kw in campaign.opt_out_keywords and kw not in OPT_OUT:
            return Classified("opt_out", "campaign_keyword", kw, kw)
        if kw in campaign.help_keywords and kw not in HELP:
            return Classified("help", "campaign_keyword", kw, kw)
    for table, intent in ((OPT_OUT, "opt_out"), (OPT_IN, "opt_in"), (AFFIRM, "affirm"), (HELP, "help")):
        if kw in table and not (intent == "opt_out" and any(ch in _POSITIVE_EMOJI for ch in text)):  # "😂 stop"
            return Classified(intent, "keyword", kw, kw, table[kw])  # type: ignore[arg-type]
    parts = clauses(text)
    if _NEW_PHONE_WHO.match(" ".join(parts)):
        return Classified("opt_out", "plain_language", "", "new_number_who_dis", "en")
    found = plain_language(text, parts)
    if found is not None:
        return Classified("opt_out", "plain_language", "", found[0], found[1])
    misspelt = _misspelt_keyword(kw)
    if misspelt is not None:
        return Classified("opt_out", "keyword", misspelt, misspelt, OPT_OUT[misspelt])
    meaningful = [p for p in parts if not _ONLY_FILLER.match(p)]
    if len(meaningful) == 1:  # "help please", "ayuda por favor"
        word = keyword_of(_TAIL_RX.sub("", _LEAD_RX.sub("", meaningful[0])))
        if word in HELP:
            return Classified("help", "keyword", word, word, "es" if HELP[word] == "es" or
                              _spanish(meaningful[0]) else "en")
    return NONE
