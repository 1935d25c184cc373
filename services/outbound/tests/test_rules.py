"""Pure rules (rules.py) and the status machine (model.py): segments and encoding, the status machine, receipt mapping, validation, timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from libs.webhooks import urls
from proto.base import CommandError, parse_uuid
from services.outbound import model, rules


# -- segments ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("hello from agentmessage", (1, "GSM-7")),
    ("a" * 160, (1, "GSM-7")),
    ("a" * 161, (2, "GSM-7")),
    ("a" * 306, (2, "GSM-7")),
    ("a" * 307, (3, "GSM-7")),
    ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!¤¡ÄÖÑÜ§¿äöñüà", (1, "GSM-7")),
    ("é" * 160, (1, "GSM-7")),
    ("a" * 1600, (11, "GSM-7")),
    ("hello 👋", (1, "UCS-2")),
    ("ç", (1, "UCS-2")),  # lowercase c-cedilla is not in GSM 03.38 (only Ç is)
    ("Привет", (1, "UCS-2")),
    ("ü" * 70 + "中", (2, "UCS-2")),
    ("中" * 70, (1, "UCS-2")),
    ("中" * 71, (2, "UCS-2")),
    ("中" * 134, (2, "UCS-2")),
    ("中" * 135, (3, "UCS-2")),
    ("😀" * 35, (1, "UCS-2")),  # each emoji is a surrogate pair: 70 code units
    ("😀" * 36, (2, "UCS-2")),
])
def test_segments_and_encoding(text: str, expected: tuple[int, str]) -> None:
    assert rules.count_segments(text) == expected


def test_extension_characters_count_two() -> None:
    # given 80 euro signs = 160 septets: one segment; one more character tips it over
    assert rules.count_segments("€" * 80) == (1, "GSM-7")
    assert rules.count_segments("€" * 80 + "a") == (2, "GSM-7")
    assert rules.count_segments("{}[]~^|\\\f€") == (1, "GSM-7")
    assert rules.count_segments("a" * 159 + "[") == (2, "GSM-7")


def test_an_escape_sequence_is_never_split_across_parts() -> None:
    # 152 plain characters + "€": the escape pair does not fit the 153-septet part, so it moves on
    text = "a" * 152 + "€" + "b" * 152
    # part 1: 152 septets (the euro's 2 would make 154), part 2: 2 + 151, part 3: 1
    assert rules.count_segments(text) == (3, "GSM-7")


def test_one_non_gsm_character_makes_the_whole_message_ucs2() -> None:
    assert rules.count_segments("a" * 100) == (1, "GSM-7")
    assert rules.count_segments("a" * 100 + "😀") == (2, "UCS-2")


def test_surrogate_pairs_are_never_split() -> None:
    # 66 units + an emoji (2) would be 68 > 67 in a part: the emoji opens the next part
    assert rules.count_segments("中" * 66 + "😀" + "中" * 66) == (3, "UCS-2")


# -- statuses ---------------------------------------------------------------------------------------
def test_lifecycle_happy_path() -> None:
    path = [None, "queued", "sending", "sent", "delivered"]
    for a, b in pairwise(path):
        assert b is not None and model.can_transition(a, b), (a, b)


@pytest.mark.parametrize("terminal", ["delivered", "undelivered", "failed", "canceled"])
@pytest.mark.parametrize("target", model.STATUSES)
def test_terminal_never_reopens(terminal: str, target: str) -> None:
    assert model.is_terminal(terminal)
    assert not model.can_transition(terminal, target)


def test_transitions() -> None:
    assert model.can_transition(None, "scheduled")
    assert not model.can_transition(None, "sending")
    assert model.can_transition("scheduled", "queued")
    assert model.can_transition("scheduled", "canceled")
    assert model.can_transition("queued", "canceled")
    assert model.can_transition("queued", "failed")  # expired
    assert model.can_transition("sending", "sending")  # a resubmission
    assert model.can_transition("sending", "scheduled")  # quiet hours at the final check
    assert not model.can_transition("sent", "sending")
    assert not model.can_transition("sent", "failed")
    assert not model.can_transition("sent", "canceled")  # too late to cancel: the carrier has it
    assert not model.can_transition("sending", "delivered")  # via sent only
    assert not model.can_transition("queued", "sent")


# -- receipts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "outcome"), [
    ("DELIVRD", "delivered"), ("delivrd", "delivered"), ("UNDELIV", "undelivered"), ("REJECTD", "undelivered"),
    ("EXPIRED", "undelivered"), ("DELETED", "undelivered"), ("ACCEPTD", None), ("UNKNOWN", "undelivered"), ("ENROUTE", None),
    ("", None),
])
def test_receipt_mapping(status: str, outcome: str | None) -> None:
    assert model.receipt_outcome(status) == outcome


# -- validation -------------------------------------------------------------------------------------
def test_text_limits() -> None:
    assert rules.validate_text("x" * 1600)
    assert rules.validate_text(" x ") == " x "
    for bad in ("", " ", " \n\t ", "x" * 1601, "nul\x00", "lone \ud800 surrogate"):
        with pytest.raises(CommandError) as e:
            rules.validate_text(bad)
        assert e.value.code == "VALIDATION_ERROR" and e.value.details == {"field": "text"}


def test_send_at() -> None:
    now = datetime(2026, 6, 11, 12, 0, tzinfo=UTC)
    assert rules.parse_send_at(None, now, 35) is None
    assert rules.parse_send_at("2026-06-11T11:00:00Z", now, 35) is None  # the past means now
    assert rules.parse_send_at("2026-06-11T13:00:00Z", now, 35) == now + timedelta(hours=1)
    assert rules.parse_send_at("2026-06-11T10:00:00-05:00", now, 35) == now + timedelta(hours=3)
    for bad in ("tomorrow", "2026-06-11T13:00:00", "2026-08-11T13:00:00Z"):
        with pytest.raises(CommandError) as e:
            rules.parse_send_at(bad, now, 35)
        assert e.value.details == {"field": "send_at"}


def test_validity() -> None:
    assert rules.validate_validity(None, 36000, 36000) == 36000
    assert rules.validate_validity(60, 36000, 36000) == 60
    for bad in (0, -1, 36001):
        with pytest.raises(CommandError):
            rules.validate_validity(bad, 36000, 36000)


@pytest.mark.parametrize(("url", "env", "ok"), [
    ("https://93.184.216.34/cb", "prod", True),
    ("http://example.com/cb", "prod", False),
    ("http://127.0.0.1:9000/cb", "dev", True),
    ("http://127.0.0.1:9000/cb", "test", True),
    ("http://127.0.0.1:9000/cb", "prod", False),
    ("https://127.0.0.1/cb", "prod", False),
    ("https://10.0.0.5/cb", "prod", False),
    ("https://169.254.169.254/latest", "prod", False),
    ("https://localhost/cb", "prod", False),
    ("http://example.com/cb", "dev", False),
    ("ftp://example.com", "dev", False),
    ("not a url", "dev", False),
    ("https://exa mple.com/", "prod", False),
    ("https://example.com/\x00", "prod", False),
])
async def test_callback_url(url: str, env: str, ok: bool) -> None:
    """A message's status_callback_url follows the one callback URL rule (libs.webhooks.urls)."""
    if ok:
        assert await urls.check_url(url, "status_callback_url", env) == url
    else:
        with pytest.raises(CommandError) as e:
            await urls.check_url(url, "status_callback_url", env)
        assert e.value.details == {"field": "status_callback_url"}


def test_uuid_parsing() -> None:
    assert parse_uuid("8F3A2B1C-1C2D-4E5F-9A8B-0C1D2E3F4A5B") == "8f3a2b1c-1c2d-4e5f-9a8b-0c1d2e3f4a5b"
    assert parse_uuid("nope") is None
    assert parse_uuid(None) is None


# -- timing -----------------------------------------------------------------------------------------
def test_expected_send_at_and_price() -> None:
    now = datetime(2026, 6, 11, 12, 0, tzinfo=UTC)
    assert rules.expected_send_at(now, 0, 60) == now
    assert rules.expected_send_at(now, 120, 60) == now + timedelta(minutes=2)
    assert rules.expires_at(now, 36000) == now + timedelta(hours=10)
    assert rules.price_micros(3, 7900) == 23700


def test_expected_send_at_counts_the_segments_ahead_not_the_messages() -> None:
    now = datetime(2026, 6, 11, 12, 0, tzinfo=UTC)
    # at 60 segments a minute (one a second): two 5-segment messages ahead take 10 tokens
    assert rules.expected_send_at(now, 10, 60) == now + timedelta(seconds=10)
    # a 5-segment message behind ten 1-segment messages waits for 10 tokens, not 10 x 5
    assert rules.expected_send_at(now, 10, 60, segments=5) == now + timedelta(seconds=10)
    # the bucket's burst goes at once: a lone message, or the first second's worth behind nothing
    assert rules.expected_send_at(now, 0, 60, segments=5, burst_s=1.0) == now
    assert rules.expected_send_at(now, 59, 3600, burst_s=1.0) == now
    assert rules.expected_send_at(now, 120, 3600, burst_s=1.0) == now + timedelta(seconds=2)
