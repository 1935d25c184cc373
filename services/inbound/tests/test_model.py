"""Pure rules of inbound: webhook payload, positions, carrier input."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from libs.phone import normalize_sender
from libs.webhooks.signing import sign, verify
from proto.base import CommandError
from services.inbound import model


def test_webhook_body_has_exactly_the_documented_fields_and_verifies() -> None:
    body = model.webhook_body(message_id="5a1b2c3d-4e5f-6789-abcd-ef0123456789",
                              event_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", from_="+15551234567",
                              to="+14155550123", body="hello agentmessage", received_at="2026-06-11T12:01:00.123Z",
                              phone_number_id="7c1f0a2d-9e8b-4c3a-9d2e-1f0a2b3c4d5e")
    assert msgspec.json.decode(body) == {
        "id": "5a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "event_id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "type": "message.received",
        "from": "+15551234567",
        "to": "+14155550123",
        "body": "hello agentmessage",
        "channel": "sms",
        "received_at": "2026-06-11T12:01:00.123Z",
        "phone_number_id": "7c1f0a2d-9e8b-4c3a-9d2e-1f0a2b3c4d5e",
    }
    header = sign(["new-secret", "old-secret"], body, t=1_800_000_000)
    assert header.count("v1=") == 2
    assert verify("old-secret", header, body, now=1_800_000_010)
    assert not verify("other", header, body, now=1_800_000_010)
    assert not verify("new-secret", header, body + b" ", now=1_800_000_010)


def test_success_is_2xx_only() -> None:
    assert [model.is_success(s) for s in (200, 204, 299, 300, 301, 404, 500, None)] == [
        True, True, True, False, False, False, False, False]


def test_positions_round_trip_and_garbage_is_a_400_naming_the_field() -> None:
    assert model.decode_position(model.encode_position("a", 42), "after") == ("a", 42)
    assert model.decode_position(model.encode_position("b", 0), "cursor") == ("b", 0)
    for bad in ("nope", model.encode_position("x", 1), "WyJhIiwgLTFd", ""):  # type: ignore[arg-type]
        with pytest.raises(CommandError) as err:
            model.decode_position(bad, "after")
        assert err.value.status == 400 and err.value.details == {"field": "after"}


def test_carrier_input_normalisation() -> None:
    assert normalize_sender("+1 (415) 555-0123") == "+14155550123"
    assert normalize_sender("+15551234567") == "+15551234567"
    assert normalize_sender(" 72345 ") == "72345"  # a short code stays as given
    assert model.parse_rfc3339("2026-06-11T12:01:00 00:00") == datetime(2026, 6, 11, 12, 1, tzinfo=UTC)


def test_the_documented_verification_recipe_works() -> None:
    import textwrap

    from services.inbound import webhooks

    doc = webhooks.__doc__ or ""
    start = doc.index("    import hashlib")
    recipe = textwrap.dedent(doc[start:doc.index("\nMechanics.")])
    assert len(recipe.strip().splitlines()) <= 10
    scope: dict[str, object] = {}
    exec(recipe, scope)
    recipe_verify = scope["verify"]
    body = b'{"id":"x","type":"message.received"}'
    assert recipe_verify("whsec_new", sign(["whsec_old", "whsec_new"], body), body)  # type: ignore[operator]
    assert not recipe_verify("whsec_new", sign(["whsec_new"], body, t=1_000_000_000), body)  # type: ignore[operator]
    assert not recipe_verify("whsec_new", sign(["whsec_other"], body), body)  # type: ignore[operator]


def test_lanes_give_a_healthy_number_many_slots_and_a_failing_one_few() -> None:
    lanes = model.Lanes(healthy=3, unhealthy=1)
    assert [lanes.start("fast") for _ in range(4)] == [True, True, True, False]
    assert lanes.limits() == (["fast"], [0])
    lanes.finish("fast", True)
    assert lanes.limits() == (["fast"], [1])
    assert lanes.start("slow") and lanes.start("slow")
    lanes.finish("slow", False)  # failed or slow: one slot until it answers well again
    assert lanes.free("slow") == 0 and not lanes.start("slow")
    lanes.finish("slow", None)  # never called (numbers unavailable): health unchanged
    assert lanes.limits() == (["fast", "slow"], [1, 1])
    assert lanes.start("slow") and not lanes.start("slow")
    lanes.finish("slow", True)
    assert lanes.free("slow") == 3 and lanes.limits() == (["fast"], [1])
    assert lanes.free("other") == 3
