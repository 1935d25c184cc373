"""A refused body says, in words, which field and what it must be: a format by example, a bound, a type,
and for a field of fixed values the values allowed (nested and in lists too)."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from proto.base import CommandError
from proto.http.accounts import CreateKeyBody
from proto.http.compliance import RecordConsentBody
from proto.http.messages import ListMessagesQuery, SendMessageBody
from proto.http.numbers import SearchNumbersBody
from services.gateway.api import decode_body, decode_query
from services.gateway.validation import plain

SEND = '{"from":"+12125550100","to":"+14155550123","text":"hi"'


def refused(raw: str, typ: type) -> tuple[str, str]:
    with pytest.raises(CommandError) as e:
        decode_body(raw.encode(), typ)
    assert e.value.status == 400 and e.value.code == "VALIDATION_ERROR"
    return e.value.details["field"], e.value.message


@pytest.mark.parametrize(("raw", "field", "message"), [
    ('{"from":"+12125550100","to":"4155550123","text":"hi"}', "to",
     "to: must be a phone number in E.164 form, e.g. +14155550123"),
    ('{"from":"+12125550100","to":"12","text":"hi"}', "to",
     "to: must be a phone number in E.164 form, e.g. +14155550123"),
    ('{"from":"+12125550100","to":"+14155550123","text":""}', "text", "text: must not be empty"),
    ('{"from":"+12125550100","to":"+14155550123","text":"' + "a" * 1601 + '"}', "text",
     "text: must be at most 1600 characters"),
    (SEND + ',"send_at":"2027-01-01T09:00:00"}', "send_at",
     "send_at: must be an RFC 3339 time with a zone, e.g. 2026-12-07T15:00:00Z"),
    (SEND + ',"category":"promo"}', "category",
     "category: 'promo' is not one of: conversational, marketing, transactional"),
    (SEND + ',"on_frequency_cap":"wait"}', "on_frequency_cap", "on_frequency_cap: 'wait' is not one of: defer, reject"),
    (SEND + ',"validity_seconds":"long"}', "validity_seconds", "validity_seconds: must be a whole number (or null), not a string"),
    ('{"from":"+12125550100","to":"+14155550123"}', "text", "text: is required"),
])
def test_a_refused_send_says_what_the_field_must_be(raw: str, field: str, message: str) -> None:
    assert refused(raw, SendMessageBody) == (field, message)


def test_allowed_values_are_found_in_lists_and_nested_bodies() -> None:
    assert refused('{"scopes":["messages:send","messages:delete"]}', CreateKeyBody) == (
        "scopes.1", "scopes.1: 'messages:delete' is not one of: billing:read, compliance:read, compliance:write, "
        "keys:write, messages:read, messages:send, numbers:read, numbers:write")
    assert refused('{"contact_number":"+14155550123","method":"fax","evidence":{}}', RecordConsentBody) == (
        "method", "method: 'fax' is not one of: import, keyword, other, paper, verbal, web_form")
    assert refused('{"contact_number":"+14155550123","method":"paper","evidence":{"captured_at":"yesterday"}}',
                   RecordConsentBody) == ("evidence.captured_at", "evidence.captured_at: must be an RFC 3339 time "
                                                                  "with a zone, e.g. 2026-12-07T15:00:00Z (or empty)")


def test_a_field_of_its_own_form_is_described_by_its_schema() -> None:
    assert refused('{"area_code":"911"}', SearchNumbersBody) == (
        "area_code", "area_code: is not valid: NANP area code: 3 digits, the first 2-9, not an N11 code, e.g. 415")
    assert refused('{"caps":{"allowed_recipients":["1415"]}}', CreateKeyBody) == (
        "caps.allowed_recipients.0", "caps.allowed_recipients.0: is not valid: an E.164 number, or its first "
                                     "digits with the +, e.g. +1415")


def test_a_reason_no_rule_knows_is_passed_on_as_it_is() -> None:
    assert plain("Expected `int` >= 1") == "must be at least 1"
    assert plain("Expected `array` of length >= 1") == "must have at least 1 item"
    assert plain("Expected `object`, got `array`") == "must be an object, not an array"
    assert plain("something new") == "something new"


def test_a_refused_query_names_the_bound() -> None:
    with pytest.raises(CommandError) as e:
        decode_query(MultiDict({"limit": "0"}), ListMessagesQuery)
    assert e.value.message == "limit: must be at least 1"
