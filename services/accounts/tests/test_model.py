"""The accounts aggregates, given / when / then: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.testing.decided import events, refusal
from proto.events import accounts as E
from services.accounts import model

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ORG, OTHER = "0b6f7c1e-1d57-4c43-8c6a-6b9b3f1f0001", "0b6f7c1e-1d57-4c43-8c6a-6b9b3f1f0002"
HASH, PREFIX = "ab" * 32, "am_live_abcd"


def signup(**over: object) -> model.Signup:
    fields: dict[str, object] = dict(
        org_id=ORG, user_id="u", key_id="k", grant_id="g", email="ada@example.com", password_hash="$argon2id$x",
        organization_name=" Acme ", key_hash=HASH, key_prefix=PREFIX, credit_micros=5_000_000, now=NOW)
    fields.update(over)
    return model.Signup(**fields)  # type: ignore[arg-type]


# -- Organization ---------------------------------------------------------------------------------------
def test_signup_creates_the_organization_its_default_key_and_the_signup_credit() -> None:
    # given a free email; when the organization signs up
    out = events(model.decide_signup(False, signup()))
    # then: the organization (name trimmed) with its owner, the default key, and $5
    assert [type(e) for e in out] == [E.OrganizationCreated, E.ApiKeyCreated, E.CreditGranted]
    org, key, grant = out
    assert isinstance(org, E.OrganizationCreated) and org.name == "Acme" and org.owner_email == "ada@example.com"
    assert isinstance(key, E.ApiKeyCreated) and key.name == "default" and key.prefix == PREFIX and key.scopes is None
    assert isinstance(grant, E.CreditGranted) and grant.amount_micros == 5_000_000 and grant.entry_id == "g"
    assert all(e.org_id == ORG and e.occurred_at == NOW for e in out)


def test_signup_with_a_taken_email_is_refused() -> None:
    err = refusal(model.decide_signup(True, signup()))
    assert (err.code, err.status, err.details["field"]) == ("EMAIL_TAKEN", 409, "email")


def test_signup_names_every_bad_field_and_the_first_one() -> None:
    err = refusal(model.decide_signup(False, signup(email="nope", password_hash="plain", organization_name=" ")))
    assert err.code == "VALIDATION_ERROR" and err.details["field"] == "email"
    assert set(err.details["fields"]) == {"email", "password", "organization_name"}


def test_signup_with_a_malformed_key_hash_is_refused() -> None:
    assert refusal(model.decide_signup(False, signup(key_hash="secret"))).code == "VALIDATION_ERROR"
    assert refusal(model.decide_signup(False, signup(key_prefix="am_test_abcd"))).code == "VALIDATION_ERROR"


# -- ApiKey ---------------------------------------------------------------------------------------------
def new_key(**over: object) -> model.NewKey:
    fields: dict[str, object] = dict(org_id=ORG, key_id="k1", name=" ci ", key_hash=HASH, prefix=PREFIX,
                                     scopes=["messages:send"], caps={"sends_per_day": 10}, now=NOW)
    fields.update(over)
    return model.NewKey(**fields)  # type: ignore[arg-type]


def test_key_created_with_its_scopes_and_caps() -> None:
    (ev,) = events(model.decide_create_key(model.KeyState(), new_key()))
    assert isinstance(ev, E.ApiKeyCreated)
    assert (ev.name, ev.scopes, ev.caps) == ("ci", ["messages:send"], {"sends_per_day": 10})
    assert model.evolve_key(model.KeyState(), ev) == model.KeyState(org_id=ORG)


def test_key_created_again_with_the_same_id_changes_nothing_and_another_orgs_id_conflicts() -> None:
    given = model.KeyState(org_id=ORG)
    assert events(model.decide_create_key(given, new_key())) == []
    assert refusal(model.decide_create_key(given, new_key(org_id=OTHER))).code == "CONFLICT"


def test_key_with_an_empty_or_long_name_is_refused() -> None:
    for name in ("  ", "x" * 101):
        assert refusal(model.decide_create_key(model.KeyState(), new_key(name=name))).details["field"] == "name"


def test_key_revoked_once_then_gone() -> None:
    given = model.KeyState(org_id=ORG)
    (ev,) = events(model.decide_revoke_key(given, ORG, "k1", NOW))
    assert isinstance(ev, E.ApiKeyRevoked) and ev.key_id == "k1"
    after = model.evolve_key(given, ev)
    assert after.revoked and after.version == 2
    assert refusal(model.decide_revoke_key(after, ORG, "k1", NOW)).status == 404


def test_another_orgs_key_or_no_key_cannot_be_revoked_and_looks_missing() -> None:
    assert refusal(model.decide_revoke_key(model.KeyState(org_id=ORG), OTHER, "k1", NOW)).code == "NOT_FOUND"
    assert refusal(model.decide_revoke_key(model.KeyState(), ORG, "k1", NOW)).code == "NOT_FOUND"


# -- Session --------------------------------------------------------------------------------------------
def test_session_started_for_a_known_user_expires_after_its_ttl() -> None:
    (ev,) = events(model.decide_start_session(True, ORG, "u", "s1", 3600, NOW))
    assert isinstance(ev, E.SessionStarted) and ev.expires_at == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
    assert model.evolve_session(None, ev) == model.SessionState(org_id=ORG, user_id="u")


def test_session_refused_for_an_unknown_user_or_a_ttl_out_of_range() -> None:
    assert refusal(model.decide_start_session(False, ORG, "u", "s1", 3600, NOW)).code == "NOT_FOUND"
    for ttl in (59, 90 * 86400 + 1):
        assert refusal(model.decide_start_session(True, ORG, "u", "s1", ttl, NOW)).details["field"] == "ttl_s"


def test_session_ended_once() -> None:
    given = model.SessionState(org_id=ORG, user_id="u")
    (ev,) = events(model.decide_end_session(given, "s1", "logout", NOW))
    assert isinstance(ev, E.SessionEnded) and ev.reason == "logout"
    after = model.evolve_session(given, ev)
    assert after is not None and after.ended
    assert events(model.decide_end_session(after, "s1", "logout", NOW)) == []


# -- credit ---------------------------------------------------------------------------------------------
def reserve(s: model.ReservationState | None, amount: int = 7_500, org: str = ORG) -> model.Decided:
    return model.decide_reserve(s, org, "r1", amount, "1 message", "msg-1", NOW)


def test_credit_reserved_takes_it_from_the_balance_and_writes_a_debit() -> None:
    (ev,) = events(reserve(None))
    assert isinstance(ev, E.CreditReserved) and ev.amount_micros == 7_500 and ev.reference == "msg-1"
    assert model.balance_change(ev) == -7_500
    assert model.ledger_entry(ev) == ("debit", -7_500, "1 message", "msg-1")
    assert model.evolve_reservation(None, ev) == model.ReservationState(org_id=ORG, amount_micros=7_500,
                                                                        reference="msg-1")


def test_insufficient_credit_says_what_is_needed_and_what_is_there() -> None:
    err = model.check_funds(5_000, 7_500)
    assert err is not None and (err.code, err.status) == ("INSUFFICIENT_CREDIT", 402)
    assert err.details == {"required_micros": 7_500, "available_micros": 5_000}
    assert model.check_funds(7_500, 7_500) is None


def test_a_negative_reservation_is_refused() -> None:
    assert refusal(reserve(None, amount=-1)).code == "VALIDATION_ERROR"


def test_a_retried_reservation_changes_nothing_and_another_orgs_id_is_taken() -> None:
    held = model.ReservationState(org_id=ORG, amount_micros=7_500)
    assert events(reserve(held)) == []
    captured = model.ReservationState(org_id=ORG, amount_micros=7_500, status="captured", version=2)
    assert events(reserve(captured)) == []
    assert refusal(reserve(held, org=OTHER)).code == "RESERVATION_ID_TAKEN"


def test_a_released_reservation_is_held_again_by_a_retry_and_settled_once_more() -> None:
    # given a send's hold given back before its message was ever accepted (a failed write, an orphan)
    (first,) = events(reserve(None))
    held = model.evolve_reservation(None, first)
    (back,) = events(model.decide_settle(held, ORG, "r1", False, "message never accepted", NOW))
    released = model.evolve_reservation(held, back)
    assert released is not None and (released.status, released.version) == ("released", 2)
    # when the send is retried under the same id, then the credit is held again (not answered as released)
    (again,) = events(reserve(released))
    assert isinstance(again, E.CreditReserved) and model.balance_change(again) == -7_500
    rehold = model.evolve_reservation(released, again)
    assert rehold is not None and (rehold.status, rehold.version) == ("held", 3)
    # and the message sent, it is captured once: $5 less the one message, not the message free
    (capture,) = events(model.decide_settle(rehold, ORG, "r1", True, "", NOW))
    done = model.evolve_reservation(rehold, capture)
    assert done is not None and (done.status, done.version) == ("captured", 4)
    assert sum(model.balance_change(e) for e in (first, back, again, capture)) == -7_500
    assert events(reserve(done)) == []


def test_credit_captured_spends_the_hold_without_touching_the_balance() -> None:
    held = model.ReservationState(org_id=ORG, amount_micros=7_500, reference="msg-1")
    (ev,) = events(model.decide_settle(held, ORG, "r1", True, "", NOW))
    assert isinstance(ev, E.CreditCaptured) and ev.amount_micros == 7_500
    assert model.balance_change(ev) == 0 and model.ledger_entry(ev) is None
    after = model.evolve_reservation(held, ev)
    assert after is not None and after.status == "captured" and after.version == 2


def test_credit_released_gives_it_back_with_a_refund_line() -> None:
    held = model.ReservationState(org_id=ORG, amount_micros=7_500, reference="msg-1")
    (ev,) = events(model.decide_settle(held, ORG, "r1", False, "refund: expired", NOW))
    assert isinstance(ev, E.CreditReleased) and model.balance_change(ev) == 7_500
    assert model.refund_entry(ev, held) == ("refund", 7_500, "refund: expired", "msg-1")
    after = model.evolve_reservation(held, ev)
    assert after is not None and after.status == "released"


def test_a_settled_reservation_stays_as_it_is_and_a_missing_one_is_404() -> None:
    for status in ("captured", "released"):
        done = model.ReservationState(org_id=ORG, amount_micros=1, status=status)
        assert events(model.decide_settle(done, ORG, "r1", True, "", NOW)) == []
        assert events(model.decide_settle(done, ORG, "r1", False, "", NOW)) == []
    assert refusal(model.decide_settle(None, ORG, "r1", True, "", NOW)).status == 404
    held = model.ReservationState(org_id=ORG, amount_micros=1)
    assert refusal(model.decide_settle(held, OTHER, "r1", True, "", NOW)).code == "NOT_FOUND"


def test_credit_granted_adds_to_the_balance() -> None:
    ev = E.CreditGranted(org_id=ORG, entry_id="g", amount_micros=5_000_000, reason="signup credit", occurred_at=NOW)
    assert model.balance_change(ev) == 5_000_000
    assert model.ledger_entry(ev) == ("grant", 5_000_000, "signup credit", "")


def test_the_balance_is_the_sum_of_its_events() -> None:
    # given $5, two holds of 1c, one captured and one released
    grant = E.CreditGranted(org_id=ORG, entry_id="g", amount_micros=5_000_000, reason="signup", occurred_at=NOW)
    holds = [events(model.decide_reserve(None, ORG, r, 10_000, "m", "", NOW))[0] for r in ("a", "b")]
    held = model.ReservationState(org_id=ORG, amount_micros=10_000)
    settle = [events(model.decide_settle(held, ORG, "a", True, "", NOW + timedelta(seconds=1)))[0],
              events(model.decide_settle(held, ORG, "b", False, "failed", NOW))[0]]
    # then only the captured one is spent
    assert sum(model.balance_change(e) for e in [grant, *holds, *settle]) == 4_990_000
