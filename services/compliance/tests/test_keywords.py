"""Keywords and plain-language opt-outs: a corpus of phrases that must and must not match."""

from __future__ import annotations

import pytest

from services.compliance.keywords import RULES, Campaign, classify, keyword_of, normalise

OPT_OUT_KEYWORDS = ["STOP", "stop", " Stop ", "STOP!", "stop.", "S T O P", "StopAll", "stop all", "UNSUBSCRIBE",
                    "unsubscribe", "Cancel", "END", "end.", "quit", "Revoke", "OPTOUT", "opt out", "Opt-Out",
                    "opt  out", "\uff33\uff34\uff2f\uff30", "\tstop\n"]

PLAIN_OPT_OUTS = {
    "I'm so over these texts": "over_these_texts",
    "this number doesn't belong to Mike anymore": "no_longer_their_number",
    "este número ya no es de esa persona": "no_es_de_esa_persona",
    "not interested pls remove": "not_interested",
    "how do i make these stop": "how_do_i_stop_these",
    "no me interesan sus promociones": "no_me_interesan_sus_mensajes",
    "no conozco a esa persona": "no_conozco_a_esa_persona",
    "quiero dejar de recibir mensajes": "dejar_de_recibir",
    "this is a landline lol how are you even texting this. stop": "landline",
    "No further contact please": "no_contact",
    "retiro mi consentimiento": "retiro_mi_consentimiento",
    "detengan esto": "paren_esto",
    "what do I have to do to get you to stop": "get_you_to_stop",
    "¿tengo que bloquearlos?": "tengo_que_bloquearlos",
    "i want these texts to end": "want_the_texts_to_stop",
    "quiero que me borren": "quiero_que_me_borren",
    "I never want to hear from you again": "never_want_to_hear_from_you",
    "Who sold you my number?": "who_sold_you_my_number",
    "ya dije que no": "ya_dije_que_no",
    "Last warning. Stop.": "last_warning",
    "ugh these texts": "ugh_these_texts",
    "He changed his number": "changed_their_number",
    "Don't know who you are": "do_not_know_you",
    "cambió de número, este ya no es de ella": "cambio_de_numero",
    "This number should not be getting these": "should_not_get_these",
    "prefiero no recibir mensajes": "prefiero_no_recibir",
    "no quiero este servicio": "no_quiero_este_servicio",
    "¿por qué me siguen escribiendo?": "por_que_me_siguen",
    "márquenme como no contactar": "marquenme_como_no_contactar",
    "ni siquiera tengo cuenta con ustedes": "no_tengo_cuenta",
    "chill with the texts": "with_the_texts",
    "mind not texting me?": "mind_not_texting",
    "no quiero que me llegue nada": "no_me_llegue_nada",
    "me salgo de la lista": "me_salgo_de_la_lista",
    "no quiero estar en su lista": "no_quiero_estar_en_su_lista",
    "quién les dio mi número? bórrenlo": "quien_les_dio_mi_numero",
    "me tienen harto con sus mensajes": "harto_de_mensajes",
    "nunca más me escriban": "nunca_mas_me_escriban",
    "i think you want a different person": "a_different_person",
    "you're not allowed to contact me": "not_allowed_to_text_me",
    "son demasiados mensajes, ya paren": "paren_clause",
    "voy a reportar este número": "voy_a_reportar",
    "ok, so please stop": "please_stop",
    "these texts need to stop": "ends_with_stop",
    "This isn't Karen's phone anymore": "person_is_not_here",
    "not my number pls update your records": "not_my_number",
    "This is the 4th text today. Enough.": "enough_of_these",
    "report spam": "report_spam",
    "esto es spam": "es_spam",
    "please stop texting me": "stop_texting_me",
    "Stop sending me these": "stop_texting_me",
    "stop the texts": "stop_the_messages",
    "end messages": "stop_the_messages",
    "cancel my subscription": "cancel_subscription",
    "I want to stop receiving these texts": "stop_receiving",
    "don't text me": "do_not_text_me",
    "dont send me any more texts": "do_not_send",
    "no more texts": "no_more_texts",
    "enough with the texts": "enough_texts",
    "remove my number from your list": "remove_me",
    "take me off your list": "take_me_off",
    "add me to your dnc list": "do_not_contact_list",
    "How do I unsubscribe?": "unsubscribe",
    "I revoke my consent": "revoke_consent",
    "wrong number": "wrong_number",
    "I never signed up for this": "never_signed_up",
    "how did you get my number": "how_did_you_get_my_number",
    "leave me alone": "leave_me_alone",
    "go away": "go_away",
    "piss off": "fuck_off",
    "this is spam": "spam",
    "reported as spam": "report",
    "if you text me one more time": "threat",
    "Thanks. Remove me": "remove_alone",
    "Not interested, thanks": "not_interested",
    "I don't want these texts": "do_not_want",
    "I'm not interested please stop": "not_interested",
    "not interested stop": "not_interested",
    "I asked you to stop": "asked_you_to_stop",
    "stop or I'll block you": "block",
    "i want out": "i_want_out",
    "This number does not want your texts": "does_not_want_texts",
    "no one here by that name": "no_one_here_by_that_name",
    "cancel these": "stop_these",
    "I want to be removed from your list": "remove_from_list",
    "Who is this and why are you texting me": "why_are_you_texting_me",
    "I'm sick of these texts": "sick_of_texts",
    "these texts are annoying": "texts_are_annoying",
    "I'd like to be removed": "want_to_be_removed",
    "you don't have my permission to text me": "no_permission",
    "knock it off with the texts": "knock_it_off",
    "TCPA violation": "legal_threat",
    "You're spamming me": "you_are_spamming_me",
    "I'm not your customer": "not_a_customer",
    "cease and desist": "cease",
    "I'm on the do not call registry": "do_not_call_registry",
    "Hi, I'd appreciate it if you stopped texting me. Thanks": "appreciate_if_you_stopped",
    "I want off this list": "want_off_the_list",
    "No soy la persona que buscan": "no_soy_la_persona",
    "no marketing texts please": "no_such_texts",
    "You text too much": "too_many_texts",
    "pls stop this is a work number": "stop_then_sentence",
    "Nobody asked for these texts": "nobody_asked",
    "Don't want it": "do_not_want_this",
    "I want to stop": "i_want_to_stop",
    "I already told you no": "told_you_no",
    "how do I turn these texts off": "turn_them_off",
    "How do I get off this list?": "get_off_the_list",
    "what do I reply to stop these": "stop_these_at_the_end",
    "Whoever you're trying to reach, it's not me": "whoever_you_are_trying_to_reach",
    "This isn't Jessica": "not_the_person_named",
    "Why am I still getting these?": "why_am_i_still_getting_these",
    "Deleting and blocking": "block_anchor",
    "I have no interest": "no_interest",
    "Lost interest, please remove": "no_interest",
    "I'd rather not get these texts": "rather_not",
    "do not send": "do_not_send_alone",
    "Ya no por favor": "ya_no",
    "Alto por favor ya no quiero": "ya_no_quiero_al_final",
    "No es mi número": "no_es_mi_numero",
    "This number is not Mark's": "not_their_number",
    "Ya no quiero que me escriban": "no_quiero_que_me_escriban",
    "I want my number removed": "want_my_number_removed",
    "I'm so done with these texts": "done_with_texts",
    "No soy cliente suyo": "no_soy_cliente",
    "this number belongs to someone else now": "number_belongs_to_someone_else",
    "who is this? stop": "stop_clause",
    "cancel please": "keyword_with_filler",
    "no me envíen más": "no_me_envien",
    "dejen de enviarme mensajes": "dejen_de_enviar",
    "ya no quiero recibir mensajes": "no_quiero_mensajes",
    "no más mensajes": "no_mas_mensajes",
    "detener mensajes": "detener_mensajes",
    "quítenme de la lista": "quitenme_de_la_lista",
    "quiero darme de baja": "darme_de_baja",
    "cancelar suscripción": "cancelar_suscripcion",
    "número equivocado": "numero_equivocado",
    "déjenme en paz": "dejame_en_paz",
    "yo nunca me suscribí a esto": "nunca_me_suscribi",
    "No gracias, no me interesa": "no_me_interesa",
    "ya basta, por favor": "ya_basta",
}

MUST_NOT_OPT_OUT = [
    "don't stop", "dont stop texting me", "never stop texting me", "I can't stop laughing",
    "stop by the store later", "please stop by tomorrow", "what time do you stop serving lunch?",
    "can you cancel my appointment", "cancel my order", "cancel my 3pm appointment?", "end of the day works",
    "when does the sale end", "the end", "I will quit my job", "remove the item from my cart",
    "remove me from the 3pm meeting", "please remove me from the group chat", "take me there",
    "take me off the waitlist for the 5pm table", "stop texting me lol jk", "why did you stop texting me?",
    "do not text me before 9am", "don't text me at work", "don't stop the updates",
    "can't wait for the end of the season", "no more questions", "yes", "start", "help", "hello", "thanks!",
    "see you at 5", "stopping by at 5", "unstoppable", "ended up late", "I want to stop by", "leave me a message",
    "STOP2", "", "   ", "👍", "you can stop worrying", "stop and think about it",
    "Stop! That's amazing news", "I accidentally unsubscribed, how do I sign back up?", "para mañana está bien",
    "no dejen de enviarme ofertas", "el volumen está muy alto", "who is this?",
]


@pytest.mark.parametrize("text", OPT_OUT_KEYWORDS)
def test_opt_out_keywords_match_case_and_space_insensitively(text: str) -> None:
    c = classify(text)
    assert c.intent == "opt_out" and c.source == "keyword", text


@pytest.mark.parametrize(("text", "rule"), sorted(PLAIN_OPT_OUTS.items()))
def test_plain_language_opt_outs_match_with_their_rule(text: str, rule: str) -> None:
    c = classify(text)
    assert (c.intent, c.source, c.rule) == ("opt_out", "plain_language", rule), text


@pytest.mark.parametrize("text", MUST_NOT_OPT_OUT)
def test_phrases_that_must_not_opt_out(text: str) -> None:
    assert classify(text).intent != "opt_out", text


@pytest.mark.parametrize(("text", "intent", "keyword"), [
    ("START", "opt_in", "START"), ("start", "opt_in", "START"), ("Unstop", "opt_in", "UNSTOP"),
    ("YES", "affirm", "YES"), ("yes!", "affirm", "YES"), ("Y", "affirm", "Y"), ("y.", "affirm", "Y"),
    ("HELP", "help", "HELP"), ("help?", "help", "HELP"), ("Info", "help", "INFO"),
])
def test_opt_in_affirm_and_help_keywords(text: str, intent: str, keyword: str) -> None:
    c = classify(text)
    assert (c.intent, c.source, c.keyword) == (intent, "keyword", keyword)


@pytest.mark.parametrize("text", ["yes please", "yeah", "help me find my order", "more info about pricing",
                                  "start tomorrow?", "info@example.com"])
def test_keywords_need_the_whole_message(text: str) -> None:
    assert classify(text).intent is None


def test_keyword_normalisation() -> None:
    assert keyword_of(" opt-out ") == "OPTOUT"
    assert keyword_of("S.T.O.P") == "STOP"


def test_every_rule_is_exercised_by_the_corpus() -> None:
    assert {r.name for r in RULES} | {"stop_clause", "keyword_with_filler", "ends_with_stop",
                                      "not_the_person_named", "enough_of_these", "paren_clause"} == set(
        PLAIN_OPT_OUTS.values())


@pytest.mark.parametrize(("text", "intent", "keyword"), [
    ("ALTO", "opt_out", "ALTO"), ("Baja.", "opt_out", "BAJA"), ("cancelar", "opt_out", "CANCELAR"),
    ("PARA", "opt_out", "PARA"), ("Detener", "opt_out", "DETENER"), ("AYUDA", "help", "AYUDA"),
    ("Sí", "affirm", "SI"), ("COMENZAR", "opt_in", "COMENZAR"),
])
def test_spanish_keywords_answer_in_spanish(text: str, intent: str, keyword: str) -> None:
    c = classify(text)
    assert (c.intent, c.keyword, c.language) == (intent, keyword, "es")


@pytest.mark.parametrize("text", ["no más mensajes", "No me envíen más", "STOP por favor", "quítenme de la lista",
                                  "alto por favor", "ayuda por favor"])
def test_spanish_phrases_are_answered_in_spanish(text: str) -> None:
    assert classify(text).language == "es"


@pytest.mark.parametrize("text", ["STOP", "stop texting me", "wrong number", "HELP", "cancel my subscription"])
def test_english_is_answered_in_english(text: str) -> None:
    assert classify(text).language == "en"


def test_a_campaigns_own_keywords_count_only_for_that_campaign() -> None:
    campaign = Campaign(opt_out_keywords=frozenset({"ARRET", "STOP"}), help_keywords=frozenset({"AIDE"}),
                        opt_in_keywords=frozenset({"JOIN", "START"}))
    assert (classify("arrêt", campaign).intent, classify("arrêt", campaign).source) == ("opt_out", "campaign_keyword")
    assert (classify("Aide", campaign).intent, classify("Aide", campaign).source) == ("help", "campaign_keyword")
    assert (classify("join", campaign).intent, classify("join", campaign).source) == ("opt_in", "campaign_keyword")
    assert classify("STOP", campaign).source == "keyword"  # a standard keyword stays standard
    assert classify("START", campaign).source == "keyword"
    assert classify("arrêt").intent is None and classify("aide").intent is None  # not on another number
    assert classify("join").intent is None


@pytest.mark.parametrize(("typo", "rule"), [("stpo", "keyword_with_filler"), ("unsubscibe", "unsubscribe"),
                                            ("Unsubcribe please", "unsubscribe"), ("sotp", "keyword_with_filler"),
                                            ("wrng numbr", "wrong_number"), ("leav me alon", "leave_me_alone"),
                                            ("stop snding me texts", "stop_texting_me"), ("st0p", "keyword_with_filler"),
                                            ("stoptextingme", "stop_texting_me"), ("ALTOOO", "keyword_with_filler"),
                                            ("srop", "keyword_with_filler")])
def test_common_typos_still_opt_out(typo: str, rule: str) -> None:
    c = classify(typo)
    assert c.intent == "opt_out" and c.rule == rule


@pytest.mark.parametrize("text", ["Hi this is Pam", "ending soon?", "no way", "Stop by the stoop", "see you at 5pm",
                                  "I'll take the test next week", "the step is loose", "the shop is open"])
def test_real_words_near_keywords_are_left_alone(text: str) -> None:
    assert classify(text).intent is None


@pytest.mark.parametrize(("text", "keyword"), [("stoop", "STOP"), ("DETENRE", "DETENER"), ("stopal!", "STOPALL"),
                                               ("detenner", "DETENER"), ("Cancelat", "CANCELAR"), ("qiut", "QUIT")])
def test_a_keyword_one_key_off_is_the_keyword(text: str, keyword: str) -> None:
    c = classify(text)
    assert (c.intent, c.keyword) == ("opt_out", keyword)


@pytest.mark.parametrize("text", ["send", "and", "Stool", "quite", "Paras", "shop", "step", "Stops", "new phone who dis",
                                  "atop", "alot", "Lara", "pata", "bala", "cancer"])
def test_words_one_key_from_a_keyword_are_not_it(text: str) -> None:
    assert classify(text).intent is None


@pytest.mark.parametrize(("text", "intent"), [("this is spam? no way, I signed up", None), ("this is spam", "opt_out"),
                                              ("¿número equivocado? creo que me pasaron mal el código", None),
                                              ("número equivocado", "opt_out"), ("who is this? wrong number", "opt_out")])
def test_a_statement_asked_as_a_question_is_not_said(text: str, intent: str | None) -> None:
    assert classify(text).intent == intent


def test_vowels_or_a_final_g_dropped_are_mended_and_other_words_left() -> None:
    assert normalise("pls stp txtng") == "please stop texting"
    assert normalise("quit blowin up my phone") == "quit blowing up my phone"
    assert normalise("hmm shh brr my gym rhythm nth") == "hmm shh brr my gym rhythm nth"
    assert normalise("sop texting me") == "stop texting me" and normalise("top of the list") == "top of the list"


def test_a_remembered_answer_never_hides_a_campaigns_own_keyword() -> None:
    # given: texts classified without a campaign (their answers remembered: most texts are asked twice)
    assert classify("JOIN NOW").intent is None and classify("AIDE").intent is None
    campaign = Campaign(opt_in_keywords=frozenset({"JOINNOW"}), help_keywords=frozenset({"AIDE"}))
    # when: the same texts come to a number on a campaign with those keywords
    # then: the campaign's keywords decide, as they would have the first time
    assert (classify("AIDE", campaign).intent, classify("AIDE", campaign).source) == ("help", "campaign_keyword")
    assert classify("JOIN NOW", campaign).intent == "opt_in"
    assert classify("AIDE").intent is None  # (and without the campaign, still nothing)
    # and a remembered answer is the same answer
    first = classify("please stop texting me")
    assert first.intent == "opt_out" and classify("please stop texting me") == first
