"""The gate and the keyword flow, pure: given a contact's ledger, when a send or a text arrives, then..."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from proto.base import CommandError, Event
from proto.events import compliance as E
from services.compliance import model
from services.compliance.keywords import classify

ORG, SF, OURS = "org-1", "+14155550123", "+14155550999"
NOON_SF = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)   # 12:00 PST
NIGHT_SF = datetime(2026, 1, 16, 7, 0, tzinfo=UTC)   # 23:00 PST
ENABLED = model.Sender(sending_enabled=True)


def facts(kind: str = "standard", category: str = "conversational", message_id: str = "m-1",
          issued_kind: str | None = None, to: str = SF) -> model.SendFacts:
    return model.SendFacts(org_id=ORG, message_id=message_id, from_=OURS, to=to, kind=kind, category=category,
                           issued_kind=issued_kind)


def inbound(body: str, at: datetime = NOON_SF, event_id: str = "ev-1") -> model.Inbound:
    return model.Inbound(event_id=event_id, message_id=f"in-{event_id}", org_id=ORG, contact=SF, our_number=OURS,
                         phone_number_id="pn-1", body=body, received_at=at)


def consented() -> model.ContactState:
    ev = E.ConsentGranted(org_id=ORG, contact_number=SF, consent_id="c-1", method="web_form", occurred_at=NOON_SF)
    return model.fold(model.ContactState(), [ev])


def text_in(s: model.ContactState, body: str, pending: model.PendingDoubleOptIn | None = None,
            at: datetime = NOON_SF, event_id: str = "ev-1", p: model.Policy | None = None
            ) -> tuple[model.ContactState, list[Event]]:
    events = model.on_inbound(s, classify(body), pending, inbound(body, at, event_id), p or model.Policy(),
                              model.Texts(brand="Acme"), at)
    return model.fold(s, events), events


def test_no_consent_is_453_consent_required_and_says_how_to_fix() -> None:
    d = model.decide(model.ContactState(), model.Policy(), facts(), ENABLED, NOON_SF)
    assert (d.decision, d.code, d.status) == ("deny", "CONSENT_REQUIRED", 453)
    assert "POST /v1/consent/double-opt-in" in d.reason
    assert [(c.name, c.result) for c in d.checks] == [("opt_out", "pass"), ("registration", "pass"),
                                                      ("consent", "fail"), ("quiet_hours", "pass"),
                                                      ("frequency_cap", "skip")]


def test_consent_allows_and_opt_out_denies_with_start_hint() -> None:
    s = consented()
    assert model.decide(s, model.Policy(), facts(), ENABLED, NOON_SF).decision == "allow"
    s, events = text_in(s, "STOP")
    assert [type(e) for e in events] == [E.ConsentRevoked, E.OptOutRecorded, E.ReplyIssued]
    d = model.decide(s, model.Policy(), facts(), None, NOON_SF)
    assert (d.decision, d.code, d.status) == ("deny", "RECIPIENT_OPTED_OUT", 453)
    assert "START" in d.reason


def test_only_the_one_confirmation_reaches_an_opted_out_contact() -> None:
    s, events = text_in(consented(), "stop")
    reply = events[-1]
    assert isinstance(reply, E.ReplyIssued) and reply.kind == "opt_out_confirmation"
    ok = facts("opt_out_confirmation", "transactional", reply.message_id, issued_kind="opt_out_confirmation")
    assert model.decide(s, model.Policy(), ok, ENABLED, NIGHT_SF).decision == "allow"  # any hour
    for other in (facts("opt_out_confirmation", "transactional", "m-x", issued_kind="opt_out_confirmation"),
                  facts("help_reply", "transactional", "m-y"),  # a caller claiming the kind: not issued by us
                  facts("standard", "transactional")):
        assert model.decide(s, model.Policy(), other, ENABLED, NOON_SF).code == "RECIPIENT_OPTED_OUT"
    # a second STOP changes nothing and sends no second confirmation
    s2, again = text_in(s, "STOP", event_id="ev-2")
    assert again == [] and s2 == s
    # HELP from an opted-out contact is answered: the contact asked (its answer passes the gate, at any hour)
    _, help_events = text_in(s, "HELP", event_id="ev-3")
    assert [type(e) for e in help_events] == [E.HelpRequested, E.ReplyIssued]
    assert isinstance(help_events[0], E.HelpRequested) and help_events[0].answered is True
    answer = help_events[1]
    assert isinstance(answer, E.ReplyIssued) and answer.kind == "help_reply"
    ok = facts("help_reply", "transactional", answer.message_id, issued_kind="help_reply")
    assert model.decide(s, model.Policy(), ok, ENABLED, NIGHT_SF).decision == "allow"


def test_start_opts_back_in_with_keyword_consent_and_a_reply() -> None:
    s, _ = text_in(consented(), "STOP")
    s, events = text_in(s, "START", event_id="ev-2")
    assert [type(e) for e in events] == [E.OptInRecorded, E.ConsentGranted, E.ReplyIssued]
    assert isinstance(events[1], E.ConsentGranted) and events[1].method == "keyword"
    assert model.decide(s, model.Policy(), facts(), ENABLED, NOON_SF).decision == "allow"


def test_the_contacts_latest_word_stands_when_its_texts_are_processed_out_of_order() -> None:
    """A START received before a STOP, but processed after it (a retry, another replica), does not opt the
    contact back in, nor send a reply; a STOP received before the START that opted it back in does not opt
    it out again. A later text still counts, and a HELP is answered whenever it was sent."""
    earlier, later = NOON_SF - timedelta(seconds=5), NOON_SF
    # given: STOP was received after START, but applied first
    s, _ = text_in(consented(), "STOP", at=later, event_id="ev-stop")
    assert s.opted_out and s.said_at == later
    # when the START comes, then nothing changes
    s2, events = text_in(s, "START", at=earlier, event_id="ev-start")
    assert events == [] and s2 == s
    assert model.decide(s2, model.Policy(), facts(), None, NOON_SF).code == "RECIPIENT_OPTED_OUT"
    # and the other way round: START (received last) applied before an older STOP
    s, _ = text_in(consented(), "STOP", at=earlier - timedelta(seconds=5), event_id="ev-1")
    s, _ = text_in(s, "START", at=later, event_id="ev-2")
    s3, events = text_in(s, "STOP", at=earlier, event_id="ev-3")
    assert events == [] and s3.status == "granted"
    # a STOP sent after the START applies
    s4, events = text_in(s, "STOP", at=later + timedelta(seconds=1), event_id="ev-4")
    assert s4.opted_out and [type(e) for e in events] == [E.ConsentRevoked, E.OptOutRecorded, E.ReplyIssued]
    # HELP is not a change of mind
    _, events = text_in(s, "HELP", at=earlier, event_id="ev-5")
    assert [type(e) for e in events] == [E.HelpRequested, E.ReplyIssued]


def test_an_opt_out_the_organization_records_outranks_an_older_start_but_its_consent_never_a_stop() -> None:
    s, _ = text_in(consented(), "STOP", at=NOON_SF - timedelta(minutes=10), event_id="ev-1")
    # the organization records an opt-out (the contact asked by phone) at noon; a START sent before it
    # comes late: the opt-out stands
    s = model.fold(s, [E.OptOutRecorded(org_id=ORG, contact_number=SF, source="api", occurred_at=NOON_SF)])
    _, events = text_in(s, "START", at=NOON_SF - timedelta(minutes=1), event_id="ev-2")
    assert events == []
    # a consent the organization records after a STOP was sent does not make that STOP stale
    s = model.fold(consented(), [E.ConsentGranted(org_id=ORG, contact_number=SF, consent_id="c-2", method="import",
                                                  occurred_at=NOON_SF)])
    s, events = text_in(s, "STOP", at=NOON_SF - timedelta(minutes=1), event_id="ev-3")
    assert s.opted_out and [type(e) for e in events] == [E.ConsentRevoked, E.OptOutRecorded, E.ReplyIssued]


def test_a_yes_received_before_a_stop_does_not_grant_the_double_opt_in() -> None:
    pending = model.PendingDoubleOptIn(id="doi-1", phone_number_id="pn-1", confirmation_text="Reply YES",
                                       message_id="m-doi", created_at=NOON_SF - timedelta(minutes=5),
                                       expires_at=NOON_SF + timedelta(hours=24))
    s, _ = text_in(model.ContactState(), "STOP", pending, at=NOON_SF, event_id="ev-stop")
    _, events = text_in(s, "YES", pending, at=NOON_SF - timedelta(seconds=10), event_id="ev-yes")
    assert events == []
    # and the YES that was applied sets the contact's latest word
    s, _ = text_in(model.ContactState(), "YES", pending, at=NOON_SF, event_id="ev-yes")
    assert s.status == "granted" and s.said_at == NOON_SF
    _, events = text_in(s, "STOP", at=NOON_SF - timedelta(seconds=1), event_id="ev-stop")
    assert events == []


def test_yes_without_a_pending_double_opt_in_is_just_a_reply() -> None:
    _, events = text_in(model.ContactState(), "yes")
    assert events == []


def test_yes_to_a_pending_double_opt_in_grants_consent_with_evidence() -> None:
    pending = model.PendingDoubleOptIn(id="doi-1", phone_number_id="pn-1", confirmation_text="Reply YES to confirm",
                                       message_id="m-doi", created_at=NOON_SF - timedelta(minutes=5),
                                       expires_at=NOON_SF + timedelta(hours=24))
    s, events = text_in(model.ContactState(), "Yes", pending)
    granted = events[0]
    assert isinstance(granted, E.ConsentGranted) and granted.method == "double_opt_in"
    e = granted.evidence
    assert (e.confirmation_text, e.confirmation_message_id, e.reply_message_id, e.double_opt_in_id) == (
        "Reply YES to confirm", "m-doi", "in-ev-1", "doi-1")
    assert e.confirmation_sent_at and e.reply_received_at and e.reply_text == "Yes"
    assert s.status == "granted"
    # after expiry the same YES does nothing
    late = NOON_SF + timedelta(hours=25)
    _, late_events = text_in(model.ContactState(), "Y", pending, at=late)
    assert late_events == []


def test_stop_expires_a_pending_double_opt_in() -> None:
    pending = model.PendingDoubleOptIn(id="doi-1", phone_number_id="pn-1", confirmation_text="t", message_id="m",
                                       created_at=NOON_SF, expires_at=NOON_SF + timedelta(hours=1))
    _, events = text_in(model.ContactState(), "please stop texting me", pending)
    assert [type(e) for e in events] == [E.OptOutRecorded, E.DoubleOptInExpired, E.ReplyIssued]
    assert isinstance(events[0], E.OptOutRecorded) and events[0].source == "plain_language"
    assert events[0].matched_rule == "stop_texting_me"


def test_replies_use_custom_then_campaign_then_default_text() -> None:
    p = model.Policy(help_reply="Custom help")
    t = model.Texts(brand="Acme", help_message="Campaign help")
    assert model.help_text(p, t) == "Custom help"
    assert model.help_text(model.Policy(), t) == "Campaign help"
    default = model.help_text(model.Policy(), model.Texts(brand="Acme"))
    assert "Acme" in default and "Reply STOP to opt out" in default and "Msg & data rates may apply" in default
    assert "START" in model.opt_out_text(model.Policy(), model.Texts(brand="Acme"))


def test_a_campaign_keyword_gets_the_campaigns_text_and_spanish_its_default_for_help_and_stop_alike() -> None:
    # given: an organization's own texts and a campaign's, for help and for opting out
    p = model.Policy(help_reply="Custom help", opt_out_reply="Custom bye")
    t = model.Texts(brand="Acme", help_message="Campaign help", opt_out_message="Campaign bye")
    for text, custom, mine in ((model.help_text, "Custom help", "Campaign help"),
                               (model.opt_out_text, "Custom bye", "Campaign bye")):
        # then: the campaign's own keyword answers with its text; otherwise the organization's wins
        assert text(p, t, "en", True) == mine and text(p, t, "es", True) == mine
        assert text(p, t, "en", False) == custom
        # and: in Spanish, without a campaign keyword, the Spanish default (naming the brand)
        assert text(p, t, "es", False).startswith("Acme: ") and custom not in text(p, t, "es", False)


def test_reply_message_ids_are_deterministic_per_event() -> None:
    _, a = text_in(model.ContactState(), "HELP")
    _, b = text_in(model.ContactState(), "HELP")
    _, c = text_in(model.ContactState(), "HELP", event_id="ev-other")
    ra, rb, rc = a[-1], b[-1], c[-1]
    assert isinstance(ra, E.ReplyIssued) and isinstance(rb, E.ReplyIssued) and isinstance(rc, E.ReplyIssued)
    assert ra.message_id == rb.message_id != rc.message_id


def test_conversation_window_is_off_by_default_and_allows_replies_when_on() -> None:
    s = model.ContactState(last_inbound_at=NOON_SF - timedelta(hours=23))
    on = model.Policy(conversation_window_enabled=True)
    # the quickstart's contract: a contact who texted first still needs consent on file by default
    assert model.decide(s, model.Policy(), facts(), ENABLED, NOON_SF).code == "CONSENT_REQUIRED"
    assert model.decide(s, on, facts(), ENABLED, NOON_SF).decision == "allow"
    old = model.ContactState(last_inbound_at=NOON_SF - timedelta(hours=25))
    assert model.decide(old, on, facts(), ENABLED, NOON_SF).code == "CONSENT_REQUIRED"
    assert model.decide(old, model.Policy(conversation_window_enabled=True, conversation_window_hours=48), facts(),
                        ENABLED, NOON_SF).decision == "allow"


def test_quiet_hours_defer_reject_off_and_transactional() -> None:
    s = consented()
    d = model.decide(s, model.Policy(), facts(), ENABLED, NIGHT_SF)
    assert d.decision == "defer" and d.defer_until == datetime(2026, 1, 16, 16, tzinfo=UTC)
    r = model.decide(s, model.Policy(quiet_hours_action="reject"), facts(), ENABLED, NIGHT_SF)
    assert (r.decision, r.code, r.status) == ("deny", "QUIET_HOURS", 453)
    assert model.decide(s, model.Policy(quiet_hours_enabled=False), facts(), ENABLED, NIGHT_SF).decision == "allow"
    assert model.decide(s, model.Policy(), facts(category="transactional"), ENABLED, NIGHT_SF).decision == "allow"


def test_transactional_is_never_exempt_from_consent_or_opt_out() -> None:
    assert model.decide(model.ContactState(), model.Policy(), facts(category="transactional"), ENABLED,
                        NOON_SF).code == "CONSENT_REQUIRED"


def test_exempt_kinds_count_only_for_messages_compliance_issued() -> None:
    claimed = facts("keyword_reply", "transactional", "m-9", issued_kind=None)
    assert model.decide(model.ContactState(), model.Policy(), claimed, ENABLED, NOON_SF).code == "CONSENT_REQUIRED"
    issued = facts("keyword_reply", "transactional", "m-9", issued_kind="keyword_reply")
    assert model.decide(model.ContactState(), model.Policy(), issued, ENABLED, NIGHT_SF).decision == "allow"
    doi = facts("opt_in_request", "transactional", "m-9", issued_kind="opt_in_request")
    assert model.decide(model.ContactState(), model.Policy(), doi, ENABLED, NOON_SF).decision == "allow"


def test_registration_deny_is_403_with_the_reason() -> None:
    sender = model.Sender(sending_enabled=False, reason_code="CAMPAIGN_PENDING", reason="the campaign is in review")
    d = model.decide(consented(), model.Policy(), facts(), sender, NOON_SF)
    assert (d.decision, d.code, d.status) == ("deny", "SENDING_NOT_ENABLED", 403)
    assert "in review" in d.reason and "CAMPAIGN_PENDING" in d.reason


def test_double_opt_in_rules() -> None:
    model.check_double_opt_in(model.ContactState(), None, NOON_SF)
    with pytest.raises(CommandError) as rate:
        model.check_double_opt_in(model.ContactState(), NOON_SF - timedelta(hours=23), NOON_SF)
    assert (rate.value.code, rate.value.status) == ("DOUBLE_OPT_IN_RATE_LIMITED", 429)
    model.check_double_opt_in(model.ContactState(), NOON_SF - timedelta(hours=24), NOON_SF)
    opted_out, _ = text_in(model.ContactState(), "STOP")
    with pytest.raises(CommandError) as out:
        model.check_double_opt_in(opted_out, None, NOON_SF)
    assert (out.value.code, out.value.status) == ("RECIPIENT_OPTED_OUT", 453)


# -- double opt-in and quiet hours; marketing and the conversation window ------------------------------------

def test_a_double_opt_in_confirmation_keeps_to_quiet_hours() -> None:
    doi = facts("opt_in_request", "conversational", "m-9", issued_kind="opt_in_request")
    d = model.decide(model.ContactState(), model.Policy(), doi, ENABLED, NIGHT_SF)
    assert d.decision == "defer" and d.defer_until == datetime(2026, 1, 16, 16, tzinfo=UTC)  # 8:00 PST
    goes = model.double_opt_in_send_time(model.Policy(), OURS, SF, "m-9", ORG, NIGHT_SF)
    assert goes == datetime(2026, 1, 16, 16, 0, tzinfo=UTC)
    assert model.double_opt_in_send_time(model.Policy(), OURS, SF, "m-9", ORG, NOON_SF) == NOON_SF
    with pytest.raises(CommandError) as refused:
        model.double_opt_in_send_time(model.Policy(quiet_hours_action="reject"), OURS, SF, "m-9", ORG, NIGHT_SF)
    assert (refused.value.code, refused.value.status) == ("QUIET_HOURS", 453)
    off = model.Policy(quiet_hours_enabled=False)
    assert model.double_opt_in_send_time(off, OURS, SF, "m-9", ORG, NIGHT_SF) == NIGHT_SF


def test_the_conversation_window_never_carries_marketing() -> None:
    p = model.Policy(conversation_window_enabled=True)
    s = model.ContactState(last_inbound_at=NOON_SF - timedelta(hours=1))
    assert model.decide(s, p, facts(category="conversational"), ENABLED, NOON_SF).decision == "allow"
    d = model.decide(s, p, facts(category="marketing"), ENABLED, NOON_SF)
    assert d.code == "CONSENT_REQUIRED" and "marketing" in d.reason
    assert model.decide(consented(), p, facts(category="marketing"), ENABLED, NOON_SF).decision == "allow"


# -- frequency caps ---------------------------------------------------------------------------------------------

FL = "+13055550123"  # Miami
NOON_FL = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)  # 12:00 EST


def sent(n: int, at: datetime, category: str = "marketing") -> list[model.Sent]:
    return [model.Sent(f"s-{i}", category, at + timedelta(minutes=i)) for i in range(n)]


def test_florida_allows_three_marketing_messages_a_day() -> None:
    f = facts(category="marketing", to=FL)
    assert [c.source for c in model.caps_of(model.Policy(), f)] == ["FL law"]
    assert model.caps_of(model.Policy(), facts(category="marketing")) == ()  # California: no state cap
    assert model.caps_of(model.Policy(), facts(category="conversational", to=FL)) == ()
    two = model.decide(consented(), model.Policy(), f, ENABLED, NOON_FL, model.Counted(sent(2, NOON_FL - timedelta(hours=3))))
    assert two.decision == "allow"
    d = model.decide(consented(), model.Policy(), f, ENABLED, NOON_FL, model.Counted(sent(3, NOON_FL - timedelta(hours=3))))
    assert (d.decision, d.code, d.status) == ("deny", "FREQUENCY_CAP", 453)
    assert d.details["next_allowed_at"] == "2026-01-16T14:00:00.000Z"  # the first of the three leaves the window
    assert ("frequency_cap", "fail") in [(c.name, c.result) for c in d.checks]
    old = model.decide(consented(), model.Policy(), f, ENABLED, NOON_FL, model.Counted(sent(3, NOON_FL - timedelta(hours=25))))
    assert old.decision == "allow"


def test_over_the_cap_a_send_can_ask_to_be_deferred() -> None:
    f = model.SendFacts(org_id=ORG, message_id="m-1", from_=OURS, to=FL, kind="standard", category="marketing",
                        on_frequency_cap="defer")
    d = model.decide(consented(), model.Policy(), f, ENABLED, NOON_FL, model.Counted(sent(3, NOON_FL - timedelta(hours=3))))
    assert d.decision == "defer" and d.defer_until == datetime(2026, 1, 16, 14, tzinfo=UTC)
    assert d.details["next_allowed_at"] == "2026-01-16T14:00:00.000Z"  # as the API shows it
    at_night = sent(3, NOON_FL - timedelta(hours=13))  # 23:00 EST the day before: they leave at 23:00 tonight
    late = model.decide(consented(), model.Policy(), f, ENABLED, NOON_FL, model.Counted(at_night))
    assert late.defer_until == datetime(2026, 1, 16, 13, tzinfo=UTC)  # not at 23:00 (quiet hours): when 8am opens
    policy = model.Policy(frequency_cap_action="defer")
    assert model.decide(consented(), policy, facts(category="marketing", to=FL), ENABLED, NOON_FL,
                        model.Counted(sent(3, NOON_FL - timedelta(hours=3)))).decision == "defer"


def test_an_organization_caps_any_category() -> None:
    p = model.Policy(frequency_caps=(model.Cap("conversational", 2, 1),))
    f = facts(category="conversational")
    assert model.decide(consented(), p, f, ENABLED, NOON_SF, model.Counted(sent(1, NOON_SF - timedelta(minutes=30),
                                                                                "conversational"))).decision == "allow"
    d = model.decide(consented(), p, f, ENABLED, NOON_SF,
                     model.Counted(sent(2, NOON_SF - timedelta(minutes=30), "conversational")))
    assert d.code == "FREQUENCY_CAP" and d.details["next_allowed_at"] == "2026-01-15T20:30:00.000Z"
    assert model.decide(consented(), p, facts(category="marketing"), ENABLED, NOON_SF,
                        model.Counted(sent(5, NOON_SF, "conversational"))).decision == "allow"


def test_a_cap_holds_over_windows_ahead_too() -> None:
    cap = model.Cap("marketing", 3, 24)
    later = [NOON_FL + timedelta(hours=h) for h in (5, 6, 7)]  # three deferred sends later today
    assert not model.frequency.fits(later, cap, NOON_FL)  # one now would make four within 24 h
    slot = model.frequency.earliest([model.Sent(str(i), "marketing", t) for i, t in enumerate(later)], (cap,),
                                    NOON_FL)
    assert slot == later[0] + timedelta(hours=24)


# -- Spanish ----------------------------------------------------------------------------------------------------

def test_a_spanish_opt_out_is_confirmed_in_spanish_and_help_too() -> None:
    _, events = text_in(consented(), "no más mensajes")
    reply = next(e for e in events if isinstance(e, E.ReplyIssued))
    assert "se ha dado de baja" in reply.text and "Acme" in reply.text
    _, events = text_in(model.ContactState(), "AYUDA")
    assert "para ayuda" in next(e for e in events if isinstance(e, E.ReplyIssued)).text
    _, events = text_in(model.ContactState(), "STOP")
    assert "unsubscribed" in next(e for e in events if isinstance(e, E.ReplyIssued)).text
