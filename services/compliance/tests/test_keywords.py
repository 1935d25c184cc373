"""Keywords and plain-language opt-outs: a corpus of phrases that must and must not match."""

from __future__ import annotations

import pytest

from services.compliance.keywords import PLAIN_RULES, classify, keyword_of

OPT_OUT_KEYWORDS = ["STOP", "stop", " Stop ", "STOP!", "stop.", "S T O P", "StopAll", "stop all", "UNSUBSCRIBE",
                    "unsubscribe", "Cancel", "END", "end.", "quit", "Revoke", "OPTOUT", "opt out", "Opt-Out",
                    "opt  out", "\uff33\uff34\uff2f\uff30", "\tstop\n"]

PLAIN_OPT_OUTS = {
    "please stop texting me": "stop_texting_me",
    "Please stop texting me!!": "stop_texting_me",
    "stop texting me": "stop_texting_me",
    "STOP TEXTING ME": "stop_texting_me",
    "stop messaging me please": "stop_texting_me",
    "quit texting me": "stop_texting_me",
    "stop sending me texts": "stop_texting_me",
    "stop sending me these messages": "stop_texting_me",
    "Stop contacting me.": "stop_texting_me",
    "please stop sending messages": "stop_texting_me",
    "don't text me": "do_not_text_me",
    "Don\u2019t text me anymore": "do_not_text_me",
    "do not contact me again": "do_not_text_me",
    "do not text this number": "do_not_text_me",
    "dont message me": "do_not_text_me",
    "never text me again": "do_not_text_me",
    "remove me": "remove_me",
    "please remove me": "remove_me",
    "remove me from this list": "remove_me",
    "Remove me from your list please": "remove_me",
    "remove my number from your texting list": "remove_me",
    "delete my number": "remove_me",
    "take me off your list": "take_me_off_list",
    "take me off the list": "take_me_off_list",
    "get me off this list": "take_me_off_list",
    "take my number off your contact list": "take_me_off_list",
    "unsubscribe me": "unsubscribe_me",
    "opt me out": "unsubscribe_me",
    "unsub": "unsubscribe_me",
    "opt out of these texts": "unsubscribe_me",
    "unsubscribe me from this list": "unsubscribe_me",
    "I want to unsubscribe": "want_to_opt_out",
    "I'd like to opt out": "want_to_opt_out",
    "i would like to be removed from your list": "want_to_opt_out",
    "I want to stop receiving these texts": "want_to_opt_out",
    "no more texts": "no_more_texts",
    "No more messages please": "no_more_texts",
    "stop please": "polite_stop",
    "please stop": "polite_stop",
    "STOP NOW": "polite_stop",
    "stop it": "polite_stop",
    "unsubscribe please": "unsubscribe_me",
    "quit it please": "polite_stop",
    "stop stop stop": "repeated_stop",
    "STOP. STOP!": "repeated_stop",
    "stop unsubscribe": "repeated_stop",
    "ok stop": "polite_stop",
    "Stop, thank you": "polite_stop",
    "leave me alone": "leave_me_alone",
    "please leave me alone": "leave_me_alone",
}

MUST_NOT_OPT_OUT = [
    "don't stop", "dont stop texting me", "never stop texting me", "I can't stop laughing",
    "stop by the store later", "please stop by tomorrow", "what time do you stop serving lunch?",
    "can you cancel my appointment", "cancel my order", "please cancel", "end of the day works",
    "when does the sale end", "the end", "I will quit my job", "remove the item from my cart",
    "remove me from the 3pm meeting", "please remove me from the group chat", "take me there",
    "take me off the waitlist for the 5pm table", "stop texting me lol jk", "why did you stop texting me?",
    "do not text me before 9am", "don't text me at work", "stop sending me coupons for shoes",
    "no more questions", "yes", "start", "help", "hello", "thanks!", "see you at 5", "stopping by at 5",
    "unstoppable", "ended up late", "I want to stop by", "leave me a message",
    "STOP2", "", "   ", "👍", "you can stop worrying", "stop and think about it", "end stop",
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
    assert {name for name, _ in PLAIN_RULES} == set(PLAIN_OPT_OUTS.values())
