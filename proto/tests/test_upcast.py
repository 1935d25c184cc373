"""Times on the wire are datetimes; events stored before, with times as text (``""`` for none), still
decode: each type's upcasters bring its older shapes to the current one (``decode_event``)."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from proto.base import times_upcaster
from proto.events import decode_event, encode_event
from proto.events.carrier import InboundTextReceived, ReceiptReceived
from proto.events.compliance import ConsentGranted, DoubleOptInRequested
from proto.events.outbound import MessageDelivered, MessageQueued, MessageScheduled

ORG = "00000000-0000-0000-0000-000000000001"
AT = "2026-06-11T12:01:00.123Z"
T = datetime(2026, 6, 11, 12, 1, 0, 123000, tzinfo=UTC)
ENVELOPE = f'"org_id":"{ORG}","event_id":"e1","occurred_at":"{AT}","correlation_id":null,"causation_id":null'
FACTS = ('"from":"+14155550100","to":"+14155550123","text":"hi","segments":1,"encoding":"GSM-7",'
         '"price_micros":7900,"send_at":null,"validity_seconds":36000')


def test_a_time_written_as_millisecond_text_reads_as_the_same_datetime() -> None:
    ev = decode_event(f'{{"type":"DoubleOptInRequested",{ENVELOPE},"request_id":"r","contact_number":"+1",'
                      f'"phone_number_id":"n","from_number":"+2","confirmation_text":"t","message_id":"m",'
                      f'"expires_at":"{AT}"}}')
    assert isinstance(ev, DoubleOptInRequested) and ev.expires_at == T and ev.occurred_at == T


def test_a_receipt_written_with_no_done_time_as_empty_text_reads_as_none() -> None:
    ev = decode_event(f'{{"type":"ReceiptReceived",{ENVELOPE},"message_id":"m","carrier_message_id":"c",'
                      f'"status":"DELIVRD","outcome":"delivered","error_code":"","done_at":""}}')
    assert isinstance(ev, ReceiptReceived) and ev.done_at is None and ev.status == "DELIVRD"


def test_a_delivery_without_a_time_reads_as_none() -> None:
    ev = decode_event(f'{{"type":"MessageDelivered",{ENVELOPE},"message_id":"m","carrier_message_id":"c",'
                      f'"receipt_status":"DELIVRD","delivered_at":""}}')
    assert isinstance(ev, MessageDelivered) and ev.delivered_at is None


@pytest.mark.parametrize("kind", ["MessageQueued", "MessageScheduled"])
def test_facts_written_with_no_expiry_as_empty_text_read_as_none(kind: str) -> None:
    extra = f',"send_at":"{AT}"' if kind == "MessageScheduled" else ""
    ev = decode_event(f'{{"type":"{kind}",{ENVELOPE},"message_id":"m","facts":{{{FACTS},"expires_at":""}}{extra}}}')
    assert isinstance(ev, MessageQueued | MessageScheduled)
    assert ev.facts is not None and ev.facts.expires_at is None and ev.facts.text == "hi"


def test_old_evidence_keeps_its_times_and_loses_its_empty_ones() -> None:
    ev = decode_event(f'{{"type":"ConsentGranted",{ENVELOPE},"contact_number":"+1","consent_id":"c",'
                      f'"method":"keyword","evidence":{{"keyword":"START","captured_at":"{AT}",'
                      f'"confirmation_sent_at":"","reply_received_at":"{AT}"}}}}')
    assert isinstance(ev, ConsentGranted)
    e = ev.evidence
    assert (e.captured_at, e.confirmation_sent_at, e.reply_received_at, e.keyword) == (T, None, T, "START")


@pytest.mark.parametrize("text", ["yesterday", "2026-06-10T08:00:00"])  # the second: no zone
def test_a_carrier_receive_time_that_was_never_a_time_becomes_the_time_it_was_recorded(text: str) -> None:
    ev = decode_event(f'{{"type":"InboundTextReceived",{ENVELOPE},"carrier_message_id":"c","from":"+1",'
                      f'"to":"+2","text":"hi","received_at":"{text}"}}')
    assert isinstance(ev, InboundTextReceived) and ev.received_at == T


def test_a_carrier_receive_time_with_an_offset_is_the_same_instant() -> None:
    ev = decode_event(f'{{"type":"InboundTextReceived",{ENVELOPE},"carrier_message_id":"c","from":"+1",'
                      f'"to":"+2","text":"hi","received_at":"2026-06-11T05:01:00.123-07:00"}}')
    assert isinstance(ev, InboundTextReceived) and ev.received_at == T and ev.received_at.utcoffset() is not None


def test_new_events_round_trip_with_their_times() -> None:
    ev = ReceiptReceived(org_id=ORG, message_id="m", carrier_message_id="c", status="DELIVRD",
                         done_at=datetime(2026, 6, 11, 12, 1, 0, 123456, tzinfo=UTC))
    assert decode_event(encode_event(ev)) == ev
    assert b'"done_at":"2026-06-11T12:01:00.123456Z"' in encode_event(ev)


def test_an_event_wrong_for_another_reason_is_still_refused() -> None:
    with pytest.raises(msgspec.ValidationError):  # a time that is text but no required field: no upcaster helps
        decode_event(f'{{"type":"ReceiptReceived",{ENVELOPE},"message_id":"m","status":"DELIVRD","done_at":""}}')
    with pytest.raises(msgspec.ValidationError):  # a type with no upcasters
        decode_event(f'{{"type":"DoubleOptInRequested",{ENVELOPE},"request_id":"r","expires_at":""}}')
    with pytest.raises(msgspec.ValidationError):  # a time on the bus has its zone
        decode_event(f'{{"type":"DoubleOptInRequested",{ENVELOPE},"request_id":"r","contact_number":"+1",'
                     f'"phone_number_id":"n","from_number":"+2","confirmation_text":"t","message_id":"m",'
                     f'"expires_at":"2026-06-11T12:01:00"}}')


def test_the_upcaster_leaves_what_it_does_not_name_and_skips_what_is_missing() -> None:
    raw = {"facts": None, "a": "", "b": "2026-06-11T05:01:00.123-07:00", "c": "x", "d": 5}
    times_upcaster("facts.expires_at", "a", "b", "missing.x", "d")(raw)
    assert raw == {"facts": None, "a": None, "b": AT, "c": "x", "d": 5}
