"""The numbers aggregates (PhoneNumber, Brand, Campaign), given / when / then: pure, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from libs.testing.decided import events, refusal
from proto.base import Event
from proto.events import numbers as E
from services.numbers import model, rules

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ORG, OTHER = "org-1", "org-2"
NUMBER = model.NumberState(id="n1", org_id=ORG, e164="+14155550100", version=1)
BRAND = model.BrandState(id="b1", org_id=ORG, entity_type="PRIVATE_PROFIT", display_name="Acme", email="a@acme.test",
                         identity_status="VERIFIED", vetting_score=80, carrier_ref="BR1")
FIELDS = {"opt_out_keywords": ["STOP", "QUIT"], "opt_out_message": "bye", "help_keywords": ["HELP"],
          "help_message": "help", "description": "d"}
PENDING = model.CampaignState(id="c1", org_id=ORG, brand=BRAND, status="pending_review", use_case="2FA",
                              fields=FIELDS, version=1, carrier_ref="CR1", submitted_at=NOW)


def fold_number(s: model.NumberState, evs: list[Event]) -> model.NumberState:
    for ev in evs:
        s = model.evolve_number(s, ev)
    return s


# -- PhoneNumber ----------------------------------------------------------------------------------------
def test_number_ordered_becomes_the_organizations() -> None:
    claimed = replace(NUMBER, status="pending", version=0)
    (ev,) = events(model.decide_ordered(claimed, "o1", 1_150_000, NOW))
    assert isinstance(ev, E.PhoneNumberOrdered) and (ev.order_id, ev.monthly_price_micros) == ("o1", 1_150_000)
    assert ev.capabilities == ["sms", "mms"]
    assert model.evolve_number(claimed, ev).status == "active"


def test_a_number_not_claimed_by_an_order_cannot_be_ordered() -> None:
    assert refusal(model.decide_ordered(NUMBER, "o1", 1, NOW)).code == "CONFLICT"


def test_number_configured_names_what_changed_and_its_first_inbound_url_brings_a_secret() -> None:
    # given a number with no settings; when its inbound_url and name are set
    out = events(model.decide_configure(NUMBER, {"inbound_url": "https://a.test/in", "friendly_name": "Desk"}, NOW))
    # then one configuration (the new values, what changed) and its first webhook secret
    conf, secret = out
    assert isinstance(conf, E.PhoneNumberConfigured) and conf.changed == ["friendly_name", "inbound_url"]
    assert (conf.inbound_url, conf.friendly_name, conf.status_callback_url) == ("https://a.test/in", "Desk", None)
    assert isinstance(secret, E.WebhookSecretRotated) and secret.first and secret.grace_until is None
    after = fold_number(NUMBER, out)
    assert after.has_secret and after.inbound_url == "https://a.test/in"


def test_configuring_what_it_already_says_changes_nothing() -> None:
    given = replace(NUMBER, friendly_name="Desk", inbound_url="https://a.test/in", has_secret=True)
    assert events(model.decide_configure(given, {"friendly_name": "Desk", "inbound_url": "https://a.test/in"}, NOW)) == []


def test_a_new_inbound_url_keeps_the_secret_it_has() -> None:
    given = replace(NUMBER, inbound_url="https://a.test/in", has_secret=True)
    (ev,) = events(model.decide_configure(given, {"inbound_url": "https://b.test/in"}, NOW))
    assert isinstance(ev, E.PhoneNumberConfigured) and ev.changed == ["inbound_url"]


def test_webhook_secret_rotated_keeps_the_previous_one_for_the_grace_period() -> None:
    given = replace(NUMBER, has_secret=True)
    (ev,) = events(model.decide_rotate_secret(given, "r1", 86_400, NOW))
    assert isinstance(ev, E.WebhookSecretRotated) and not ev.first
    assert ev.grace_until == NOW + timedelta(days=1)


def test_a_first_rotation_has_no_previous_secret_and_a_repeat_changes_nothing() -> None:
    (ev,) = events(model.decide_rotate_secret(NUMBER, None, 86_400, NOW))
    assert isinstance(ev, E.WebhookSecretRotated) and ev.first and ev.grace_until is None
    assert events(model.decide_rotate_secret(replace(NUMBER, last_rotation_id="r1"), "r1", 86_400, NOW)) == []


def test_number_released_leaves_its_campaign_and_secrets() -> None:
    given = replace(NUMBER, campaign_id="c1", has_secret=True)
    (ev,) = events(model.decide_release(given, NOW))
    assert isinstance(ev, E.PhoneNumberReleased)
    after = model.evolve_number(given, ev)
    assert (after.status, after.campaign_id, after.has_secret) == ("released", None, False)


def test_a_released_number_is_gone_for_every_command() -> None:
    gone = replace(NUMBER, status="released")
    for result in (model.decide_release(gone, NOW), model.decide_rotate_secret(gone, None, 1, NOW),
                   model.decide_configure(gone, {"friendly_name": "x"}, NOW)):
        assert refusal(result).status == 404


# -- Brand ----------------------------------------------------------------------------------------------
def register(existing: model.BrandState | None, status: str = "VERIFIED", org: str = ORG) -> model.Decided:
    return model.decide_register_brand(existing, org, "b1", "PRIVATE_PROFIT", " Acme ",
                                       model.Registry(status, 80, "BR1"), NOW)


def test_brand_registered_and_verified() -> None:
    (ev,) = events(register(None))
    assert isinstance(ev, E.BrandRegistered) and ev.display_name == "Acme" and ev.identity_status == "VERIFIED"
    brand = model.evolve_brand(None, ev, email="a@acme.test")
    assert brand is not None and model.check_brand_usable(brand) is None


def test_brand_that_failed_verification_is_registered_but_takes_no_campaign() -> None:
    (ev,) = events(register(None, status="UNVERIFIED"))
    brand = model.evolve_brand(None, ev)
    assert brand is not None
    err = model.check_brand_usable(brand)
    assert err is not None and (err.code, err.status) == ("BRAND_UNVERIFIED", 409)
    submitting = replace(PENDING, status="submitting", brand=brand)
    assert refusal(model.decide_submitted(submitting, "CR1", NOW)).code == "BRAND_UNVERIFIED"


def test_brand_registered_again_with_the_same_id_changes_nothing_and_another_orgs_id_conflicts() -> None:
    assert events(register(BRAND)) == []
    assert refusal(register(BRAND, org=OTHER)).code == "CONFLICT"


# -- Campaign -------------------------------------------------------------------------------------------
def test_campaign_created_goes_to_review_with_its_own_keywords() -> None:
    submitting = replace(PENDING, status="submitting", carrier_ref=None, version=0)
    (ev,) = events(model.decide_submitted(submitting, "CR1", NOW))
    assert isinstance(ev, E.CampaignSubmitted) and ev.carrier_ref == "CR1" and ev.brand_id == "b1"
    assert (ev.opt_out_keywords, ev.opt_out_message, ev.help_keywords) == (["STOP", "QUIT"], "bye", ["HELP"])
    assert model.evolve_campaign(submitting, ev).status == "pending_review"


def review(approved: bool, at: datetime | None = NOW) -> rules.Review:
    reasons = [] if approved else [{"code": "R1", "description": "no opt-out language"}]
    return rules.Review("CR1", approved, reasons, at)


def test_campaign_approved_with_the_limits_of_its_brands_vetting() -> None:
    (ev,) = events(model.decide_review(PENDING, review(True), NOW))
    assert isinstance(ev, E.CampaignApproved) and (ev.throughput_mpm, ev.daily_cap) == (4500, 200_000)
    assert model.evolve_campaign(PENDING, ev).status == "approved"


def test_campaign_rejected_with_its_reasons() -> None:
    (ev,) = events(model.decide_review(PENDING, review(False), NOW))
    assert isinstance(ev, E.CampaignRejected) and [r.code for r in ev.rejection_reasons] == ["R1"]
    after = model.evolve_campaign(PENDING, ev)
    assert after.status == "rejected" and after.rejection_reasons == (("R1", "no opt-out language"),)


def test_a_verdict_twice_or_on_an_earlier_submission_is_ignored() -> None:
    approved = replace(PENDING, status="approved")
    assert events(model.decide_review(approved, review(False), NOW)) == []
    late = review(False, at=NOW - timedelta(minutes=5))
    assert events(model.decide_review(PENDING, late, NOW)) == []


def resubmission(**over: object) -> model.Resubmission:
    fields: dict[str, object] = dict(fields={**FIELDS, "description": "better"}, changed=["description"],
                                     use_case="2FA", status_callback_url=None, submission_id="s1")
    fields.update(over)
    return model.Resubmission(**fields)  # type: ignore[arg-type]


def test_campaign_resubmitted_goes_back_to_review_saying_what_changed() -> None:
    rejected = replace(PENDING, status="rejected", rejection_reasons=(("R1", ""),))
    (ev,) = events(model.decide_resubmit(rejected, resubmission(), NOW))
    assert isinstance(ev, E.CampaignResubmitted) and ev.changed == ["description"] and ev.opt_out_keywords == ["STOP", "QUIT"]
    after = model.evolve_campaign(rejected, ev)
    assert (after.status, after.rejection_reasons, after.submitted_at) == ("pending_review", (), NOW)


def test_only_a_rejected_campaign_is_resubmitted_and_a_repeat_changes_nothing() -> None:
    err = refusal(model.decide_resubmit(PENDING, resubmission(), NOW))
    assert (err.code, err.details) == ("CONFLICT", {"status": "pending_review"})
    assert events(model.decide_resubmit(replace(PENDING, last_submission_id="s1"), resubmission(), NOW)) == []


def test_an_edit_names_a_new_use_case_and_callback_url() -> None:
    r = model.edit(PENDING, FIELDS, ["description"], "MARKETING", "https://a.test/cb", None)
    assert r.changed == ["description", "status_callback_url", "use_case"] and r.use_case == "MARKETING"


def test_numbers_assigned_to_a_campaign_only_if_on_no_other() -> None:
    numbers = [model.NumberRef("n1", "+14155550100"), model.NumberRef("n2", "+14155550101", "c1")]
    (ev,) = events(model.decide_assign(PENDING, numbers, NOW))  # n2 is on it already
    assert isinstance(ev, E.CampaignNumberAssigned) and ev.phone_number_id == "n1"
    assert model.evolve_campaign(PENDING, ev).numbers == 1
    assert model.evolve_number(NUMBER, ev).campaign_id == "c1"
    err = refusal(model.decide_assign(PENDING, [model.NumberRef("n3", "+14155550102", "c9")], NOW))
    assert (err.code, err.details) == ("NUMBER_ON_OTHER_CAMPAIGN", {"campaigns": {"n3": "c9"}})


def test_a_sole_proprietors_campaign_takes_one_number() -> None:
    sole = replace(PENDING, brand=replace(BRAND, entity_type="SOLE_PROPRIETOR"), numbers=1)
    assert model.room(sole) == 0 and model.room(PENDING) is None
    err = refusal(model.decide_assign(sole, [model.NumberRef("n1", "+14155550100")], NOW))
    assert (err.code, err.details) == ("SOLE_PROPRIETOR_LIMIT", {"max_numbers": 1})


def test_number_removed_from_its_campaign() -> None:
    on = model.NumberRef("n1", "+14155550100", "c1")
    (ev,) = events(model.decide_remove_number(replace(PENDING, numbers=1), on, "n1", NOW))
    assert isinstance(ev, E.CampaignNumberRemoved) and ev.reason == "removed by the organization"
    assert model.evolve_campaign(replace(PENDING, numbers=1), ev).numbers == 0
    assert model.evolve_number(replace(NUMBER, campaign_id="c1"), ev).campaign_id is None


def test_a_number_not_on_the_campaign_cannot_be_removed() -> None:
    assert refusal(model.decide_remove_number(PENDING, None, "n9", NOW)).details == {"phone_number_id": "n9"}
    elsewhere = model.NumberRef("n1", "+14155550100", "c2")
    assert refusal(model.decide_remove_number(PENDING, elsewhere, "n1", NOW)).status == 404
