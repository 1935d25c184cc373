"""The SMPP codec, text and receipt rules (pure)."""

from __future__ import annotations

import pytest

from libs.smpp import pdu, receipt, text


def test_submit_sm_round_trips_with_tlvs() -> None:
    p = pdu.Pdu(pdu.SUBMIT_SM, 7, params={"source_addr": "14155550100", "source_addr_ton": 1,
                                          "destination_addr": "15551234567", "esm_class": 0x40, "data_coding": 8,
                                          "short_message": b"\x05\x00\x03\x01\x02\x01hi"},
                tlvs={pdu.TAG_SAR_MSG_REF_NUM: b"\x00\x01"})
    raw = pdu.encode(p)
    assert int.from_bytes(raw[:4], "big") == len(raw)
    back = pdu.decode(raw)
    assert back.command_id == pdu.SUBMIT_SM and back.sequence == 7
    assert back.text("source_addr") == "14155550100" and back.number("source_addr_ton") == 1
    assert back.octets("short_message") == b"\x05\x00\x03\x01\x02\x01hi"
    assert back.tlvs == {pdu.TAG_SAR_MSG_REF_NUM: b"\x00\x01"}


def test_error_response_is_header_only_and_decodes() -> None:
    raw = pdu.encode(pdu.Pdu(pdu.SUBMIT_SM | pdu.RESP, 3, pdu.ESME_RTHROTTLED))
    assert len(raw) == 16
    back = pdu.decode(raw)
    assert back.status == pdu.ESME_RTHROTTLED and back.text("message_id") == ""
    assert back.name == "submit_sm_resp"


def test_truncated_pdu_is_refused() -> None:
    raw = pdu.encode(pdu.Pdu(pdu.BIND_TRANSCEIVER, 1, params={"system_id": "a", "password": "b"}))
    with pytest.raises(pdu.PduError):
        pdu.decode(raw[:-3])


def test_gsm7_with_extension_table_round_trips() -> None:
    s = "Price: 5€ [ok] {x} ~^|\\ @£$ Ünïcode-free"
    s = s.replace("ï", "i")
    assert text.encoding_of(s) == "GSM-7"
    enc = text.encode_gsm(s)
    assert enc.count(b"\x1b") == 9
    assert text.decode(enc, 0) == s


@pytest.mark.parametrize(("body", "parts", "enc"), [
    ("a" * 160, 1, "GSM-7"),
    ("a" * 161, 2, "GSM-7"),
    ("a" * 306, 2, "GSM-7"),
    ("a" * 307, 3, "GSM-7"),
    ("a" * 152 + "€" + "a" * 10, 2, "GSM-7"),  # the escape pair is not cut: 152 + 2 > 153
    ("é" * 70 + "ж", 2, "UCS-2"),
    ("ж" * 70, 1, "UCS-2"),
    ("ж" * 134, 2, "UCS-2"),
    ("ж" * 66 + "👋" + "ж" * 3, 2, "UCS-2"),  # the surrogate pair is not cut
])
def test_split_matches_segments(body: str, parts: int, enc: str) -> None:
    e, dc, ps = text.split(body)
    assert (len(ps), e) == (parts, enc)
    assert dc == (0 if enc == "GSM-7" else 8)
    joined = b"".join(ps)
    assert text.decode(joined, dc) == body
    assert all(len(p) <= (153 if enc == "GSM-7" else 134) for p in ps) or parts == 1
    if "€" in body or "👋" in body:
        assert len(ps[0]) in (152, 132)


def test_udh_concat_round_trips() -> None:
    c, rest = text.strip_udh(text.udh_concat(0x2A, 3, 2) + b"abc")
    assert c == text.Concat(0x2A, 3, 2) and rest == b"abc"
    c16, rest16 = text.strip_udh(bytes((6, 8, 4, 0x01, 0x02, 2, 1)) + b"x")
    assert c16 == text.Concat(0x0102, 2, 1) and rest16 == b"x"


def test_latin1_and_ucs2_decode() -> None:
    assert text.decode("café".encode("latin-1"), 3) == "café"
    assert text.decode("привет 👋".encode("utf-16-be"), 8) == "привет 👋"


def test_receipt_text_parsed() -> None:
    p = pdu.Pdu(pdu.DELIVER_SM, params={"esm_class": 4})
    r = receipt.parse(p, "id:abc123 sub:001 dlvrd:000 submit date:2612061230 done date:2612061231 stat:UNDELIV "
                         "err:034 text:hello")
    assert r == receipt.Receipt(message_id="abc123", stat="UNDELIV", err="034", done_at="2026-12-06T12:31:00.000Z")
    assert receipt.outcome(r.stat) == "undelivered"


def test_receipt_tlvs_win_over_text() -> None:
    p = pdu.Pdu(pdu.DELIVER_SM, params={"esm_class": 4},
                tlvs={pdu.TAG_RECEIPTED_MESSAGE_ID: b"XYZ\x00", pdu.TAG_MESSAGE_STATE: b"\x02"})
    r = receipt.parse(p, "id:other stat:UNDELIV err:000")
    assert r is not None and (r.message_id, r.stat, r.err) == ("XYZ", "DELIVRD", "")


@pytest.mark.parametrize(("stat", "outcome"), [
    ("DELIVRD", "delivered"), ("EXPIRED", "undelivered"), ("DELETED", "undelivered"), ("UNDELIV", "undelivered"),
    ("REJECTD", "undelivered"), ("UNKNOWN", "undelivered"), ("ACCEPTD", None), ("ENROUTE", None),
])
def test_every_stat_mapped(stat: str, outcome: str | None) -> None:
    assert receipt.outcome(stat) == outcome


def test_format_text_parses_back() -> None:
    t = receipt.format_text("m1", "EXPIRED", "001")
    r = receipt.parse(pdu.Pdu(pdu.DELIVER_SM), t)
    assert r is not None and (r.message_id, r.stat, r.err) == ("m1", "EXPIRED", "001")
