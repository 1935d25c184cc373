"""The vocabulary the plain-language rules are written in (filler, verbs, objects, negations and guards),
and the rule type with its constructor."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from proto.keywords import Language


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
