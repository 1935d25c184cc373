"""The carrier service's pure rules: a message as submit_sm parts, a message's receipt from its parts'
receipts, an inbound deliver_sm read (UDH, SAR, codings, repeat key), parts reassembled in order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.smpp import pdu, text
from services.carrier import model
from services.carrier.config import SmppTarget


def test_one_part_message() -> None:
    [p] = model.submit_pdus("+14155550100", "+15551234567", "hello", ref=9)
    assert (p.text("source_addr"), p.number("source_addr_ton"), p.text("destination_addr")) == (
        "14155550100", 1, "15551234567")
    assert (p.number("esm_class"), p.number("data_coding"), p.number("registered_delivery")) == (0, 0, 1)
    assert p.octets("short_message") == b"hello"


def test_long_ucs2_message_in_parts_with_one_reference() -> None:
    body = "ж" * 200
    ps = model.submit_pdus("+14155550100", "+15551234567", body, ref=0x33)
    assert len(ps) == 3
    got = []
    for i, p in enumerate(ps, start=1):
        assert p.number("esm_class") == 0x40 and p.number("data_coding") == 8
        concat, payload = text.strip_udh(p.octets("short_message"))
        assert concat == text.Concat(0x33, 3, i)
        got.append(payload)
    assert text.decode(b"".join(got), 8) == body


def test_long_message_with_sar_tlvs_instead_of_a_udh() -> None:
    ps = model.submit_pdus("+14155550100", "+15551234567", "a" * 200, ref=0x0133, sar=True)
    assert len(ps) == 2
    for i, p in enumerate(ps, start=1):
        assert p.number("esm_class") == 0 and p.octets("short_message") == b"a" * (153 if i == 1 else 47)
        assert p.tlvs == {pdu.TAG_SAR_MSG_REF_NUM: b"\x01\x33", pdu.TAG_SAR_TOTAL_SEGMENTS: bytes((2,)),
                          pdu.TAG_SAR_SEGMENT_SEQNUM: bytes((i,))}
    back = pdu.decode(pdu.encode(ps[1]))
    assert back.tlvs == ps[1].tlvs


def _part(seq: int, stat: str | None, err: str = "") -> model.PartReceipt:
    return model.PartReceipt(seq, stat, err)


def test_message_receipt_from_parts() -> None:
    ids = {1: "a", 2: "b", 3: "c"}
    assert model.message_receipt(3, [_part(1, "DELIVRD"), _part(2, "DELIVRD")], ids) is None
    done = model.message_receipt(3, [_part(1, "DELIVRD"), _part(2, "DELIVRD"), _part(3, "DELIVRD")], ids)
    assert done is not None and (done.carrier_message_id, done.stat, done.outcome) == ("a", "DELIVRD", "delivered")
    bad = model.message_receipt(3, [_part(1, "DELIVRD"), _part(2, "UNDELIV", "034")], ids)
    assert bad is not None and (bad.carrier_message_id, bad.stat, bad.outcome, bad.err) == (
        "b", "UNDELIV", "undelivered", "034")
    assert model.message_receipt(1, [_part(1, "ACCEPTD")], {1: "a"}) is None
    unknown = model.message_receipt(1, [_part(1, "UNKNOWN")], {1: "a"})
    assert unknown is not None and unknown.outcome == "undelivered"


def _deliver(sm: bytes, esm: int = 0, dc: int = 0, tlvs: dict[int, bytes] | None = None) -> pdu.Pdu:
    return pdu.Pdu(pdu.DELIVER_SM, params={"source_addr": "15551234567", "source_addr_ton": 1,
                                           "destination_addr": "14155550100", "dest_addr_ton": 1, "esm_class": esm,
                                           "data_coding": dc, "short_message": sm}, tlvs=tlvs or {})


def test_inbound_part_reads_udh_sar_and_codings() -> None:
    p = model.inbound_part(_deliver(text.udh_concat(7, 2, 2) + "ü".encode("utf-16-be"), esm=0x40, dc=8))
    assert (p.source, p.destination, p.body, p.concat) == ("+15551234567", "+14155550100", "ü", text.Concat(7, 2, 2))
    sar = model.inbound_part(_deliver(b"x", tlvs={pdu.TAG_SAR_MSG_REF_NUM: b"\x01\x02",
                                                    pdu.TAG_SAR_TOTAL_SEGMENTS: b"\x03",
                                                    pdu.TAG_SAR_SEGMENT_SEQNUM: b"\x01"}))
    assert sar.concat == text.Concat(0x0102, 3, 1)
    assert model.inbound_part(_deliver("é".encode("latin-1"), dc=3)).body == "é"
    assert model.inbound_part(_deliver(b"\x1b\x65 5", dc=0)).body == "€ 5"


def test_a_repeated_pdu_has_the_same_key_and_another_part_not() -> None:
    a = model.inbound_part(_deliver(text.udh_concat(7, 2, 1) + b"ab", esm=0x40))
    assert a.key == model.inbound_part(_deliver(text.udh_concat(7, 2, 1) + b"ab", esm=0x40)).key
    assert a.key != model.inbound_part(_deliver(text.udh_concat(7, 2, 2) + b"ab", esm=0x40)).key
    assert a.group_key == model.inbound_part(_deliver(text.udh_concat(7, 2, 2) + b"cd", esm=0x40)).group_key


def test_receipt_flag() -> None:
    assert model.is_receipt(_deliver(b"id:1 stat:DELIVRD", esm=0x04))
    assert not model.is_receipt(_deliver(b"hi"))


def test_assemble_in_order_with_gaps_marked() -> None:
    assert model.assemble({2: "b", 1: "a", 3: "c"}, 3) == ("abc", True)
    assert model.assemble({1: "a", 3: "c"}, 3) == ("a[…]c", False)


def test_smpp_url() -> None:
    t = SmppTarget.parse("smpps://sys%40id:p%40ss@smsc.example:3551?bind=txrx&window=50&tps=20.5&binds=2"
                         "&system_type=VMA&source_ton=5&source_npi=0&concat=sar")
    assert (t.system_id, t.password, t.host, t.port, t.tls) == ("sys@id", "p@ss", "smsc.example", 3551, True)
    assert (t.bind, t.window, t.tps, t.binds, t.system_type, t.source_ton, t.source_npi) == (
        "txrx", 50, 20.5, 2, "VMA", 5, 0)
    assert t.concat == "sar"
    assert t.upstream == "smpps://smsc.example:3551"
    assert SmppTarget.parse("smpp://a:b@h").port == 2775


@pytest.mark.parametrize("url", ["http://a:b@h:1", "smpp://h:1", "smpp://a:b@h:1?bind=x", "smpp://a:b@h:1?window=0",
                                 "smpp://a:b@h:1?nope=1", "smpp://a:b@h:1?tps=fast",
                                 "smpp://a:toolongpassword@h:1"])
def test_bad_smpp_urls_say_why_without_the_password(url: str) -> None:
    with pytest.raises(ValueError) as err:
        SmppTarget.parse(url)
    assert "toolongpassword" not in str(err.value)


@pytest.mark.parametrize(("raw", "want"), [
    ("2026-06-11T12:01:00.123Z", datetime(2026, 6, 11, 12, 1, 0, 123000, tzinfo=UTC)),
    ("2026-06-11T05:01:00.123-07:00", datetime(2026, 6, 11, 12, 1, 0, 123000, tzinfo=UTC)),
    ("garbage", None), ("2026-06-11T12:01:00", None), ("", None), (None, None)])  # no zone: not a time
def test_a_carrier_time_is_read_once_and_one_it_cannot_read_is_none(raw: str | None, want: datetime | None) -> None:
    assert model.carrier_time(raw) == want
