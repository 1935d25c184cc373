"""Contracts: generated schemas match the Structs, subjects follow the design, events round-trip."""

from __future__ import annotations

from proto.base import snake
from proto.events import all_event_types, decode_event, encode_event
from proto.events.accounts import OrganizationCreated
from proto.gen import OUT, render
from proto.subjects import Subjects


def test_committed_schemas_match_the_structs() -> None:
    files = render()
    for path, text in files.items():
        assert (OUT / path).exists(), f"missing {path}: run `make schemas`"
        assert (OUT / path).read_text() == text, f"{path} drifted: run `make schemas`"


def test_every_event_has_a_domain_an_aggregate_and_a_docstring() -> None:
    for t in all_event_types():
        assert t.DOMAIN and t.AGGREGATE, t
        assert t.__doc__ and "Emitted by" in t.__doc__, f"{t.__name__} must say who emits it"
        assert not t.__name__.startswith(("Create", "Send", "Queue")), "events are facts, past tense"


def test_subjects() -> None:
    s = Subjects()
    assert s.event("outbound", "message", snake("MessageQueued"), "org1") == "am.outbound.message.message_queued.org1"
    assert s.command("compliance", "evaluate_send") == "am.cmd.compliance.evaluate_send"
    assert s.stream_name("outbound") == "AM_OUTBOUND"
    assert s.domain_wildcard("outbound") == "am.outbound.>"


def test_events_round_trip() -> None:
    ev = OrganizationCreated(org_id="o", name="n", owner_user_id="u", owner_email="e@x.io")
    assert decode_event(encode_event(ev)) == ev
