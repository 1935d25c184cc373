"""Pure rules of compliance that are not the contact ledger's life: the fields of a request read strictly
(a 400 naming the field), and what our own replies say (help, opt-out confirmation, opt-in) in the
contact's language — the organization's custom text, else the campaign's, else ours. No I/O."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from libs.phone import normalize_e164
from proto.base import CommandError
from proto.keywords import Language

if TYPE_CHECKING:
    from services.compliance.model import Policy

# -- fields of a request ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=200_000)
def normalize(raw: str) -> str:
    """E.164, remembered: the gate normalizes the same few numbers on every send."""
    return normalize_e164(raw)


def e164(raw: str, field: str) -> str:
    try:
        return normalize(raw)
    except ValueError as exc:
        raise CommandError("VALIDATION_ERROR", f"{field}: {exc}", 400, {"field": field}) from exc


# -- what our replies say ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Texts:
    """What the replies say: the organization's custom text, else the campaign's, else ours."""

    brand: str = ""
    help_message: str | None = None
    opt_out_message: str | None = None
    opt_in_message: str | None = None
    """The campaign's, for one of its own opt-in keywords only (START gets the organization's or ours)."""


def _brand(t: Texts) -> str:
    return t.brand or "This sender"


def _marca(t: Texts) -> str:
    return t.brand or "Este remitente"


def help_text(p: Policy, t: Texts, language: Language = "en", campaign: bool = False) -> str:
    """``campaign``: the contact texted one of the campaign's own help keywords: its help message first."""
    return _keyword_reply(
        t.help_message, p.help_reply, language, campaign,
        es=(f"{_marca(t)}: para ayuda, responda a este mensaje. La frecuencia de mensajes varía. "
            "Responda ALTO para no recibir más mensajes. Pueden aplicarse tarifas de mensajes y datos."),
        en=(f"{_brand(t)}: for help, reply to this message. Msg frequency varies. "
            "Reply STOP to opt out. Msg & data rates may apply."))


def opt_out_text(p: Policy, t: Texts, language: Language = "en", campaign: bool = False) -> str:
    """In the contact's language; ``campaign``: one of the campaign's own keywords, answered with its message."""
    return _keyword_reply(
        t.opt_out_message, p.opt_out_reply, language, campaign,
        es=(f"{_marca(t)}: se ha dado de baja y no recibirá más mensajes. Responda START o COMENZAR para "
            "volver a suscribirse."),
        en=f"{_brand(t)}: you are unsubscribed and will receive no more messages. Reply START to resubscribe.")


def _keyword_reply(campaign_text: str | None, policy_text: str | None, language: Language, campaign: bool, *,
                   es: str, en: str) -> str:
    """Which reply a keyword gets: the campaign's own text when one of the campaign's keywords was texted;
    else in Spanish the default; else the organization's policy text, the campaign's, or the default."""
    if campaign and campaign_text:
        return campaign_text
    if language == "es":
        return es
    return policy_text or campaign_text or en


def opt_in_text(p: Policy, t: Texts, language: Language = "en", campaign: bool = False) -> str:
    """``campaign``: the contact texted one of the campaign's own opt-in keywords (JOIN): its message first."""
    if campaign and t.opt_in_message:
        return t.opt_in_message
    if language == "es":
        return (f"{_marca(t)}: se ha suscrito. La frecuencia de mensajes varía. Responda AYUDA para ayuda, ALTO "
                "para no recibir más mensajes. Pueden aplicarse tarifas de mensajes y datos.")
    return p.opt_in_reply or (
        f"{_brand(t)}: you are subscribed. Msg frequency varies. Reply HELP for help, STOP to opt out. "
        "Msg & data rates may apply.")
