"""Plain-language opt-outs: each clause read by the rules, and the guards around them (delight, jest, a
question, a mistaken recipient, another channel)."""

from __future__ import annotations

import re

from proto.keywords import Language
from services.compliance.keywords.index import _TAIL_RX, _candidates, _rule_match
from services.compliance.keywords.normalize import _POSITIVE_EMOJI, clauses
from services.compliance.keywords.vocab import (
    _BARE_CLAUSE,
    _JEST,
    _LEAD,
    _MSG,
    _ONLY_FILLER,
    _POSITIVE,
    _TAIL,
    _WHOLE_MESSAGE,
)

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


_ES_WORDS = re.compile(
    r"\b(?:por favor|porfa|gracias|mensajes|numero|ya|mas|quiero|senor|alto|para|parar|pare|"
    r"ustedes|usted|esto|este|estos|hablo|soy|estoy|nada|aqui|nadie|molesten|conozco|ninguna|ningun|"
    r"vive|quien|bloqueado|bloqueada|reportado|reportada|"
    r"paren|baja|cancelar|detener|detente|basta|desuscribir\w*|no mas|eliminar|borrar|quitar|bajame|quitame|"
    r"borrame|eliminame)\b")
_EN_WORDS = re.compile(r"\b(?:the|you|your|i|me|my|this|is|are|got|have|number|texts?|messages?|and|"
                       r"wrong|do not|know|who|what|off|from)\b")
"""English words that outvote a lone Spanish-looking one ("ya got the wrong number pal")."""


def _spanish(text: str) -> bool:
    text = text.replace("see ya", "")
    spanish = len(_ES_WORDS.findall(text))
    return spanish > 0 and (spanish >= 2 or len(_EN_WORDS.findall(text)) < 2)


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
