"""The SDK's models read what the API writes. ``libs/sdk`` is its own distribution (``agentmessage-sdk``,
httpx and msgspec only): it cannot import ``proto``, so its models are a second, deliberately smaller
declaration of the public shapes — the fields a client reads, as JSON types, every one a tolerant reader
(unknown fields ignored, so an older SDK keeps working against a newer API). This test holds the two
together: every field an SDK model declares is one the API's view has under the same JSON name and
type, and one the SDK requires is one the API always sends."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from agentmessage import models as sdk

from proto.commands import accounts, compliance, inbound, outbound
from proto.http.inbound import InboundMessageView
from proto.http.numbers import NumberView

PAIRS: list[tuple[type[msgspec.Struct], type[msgspec.Struct]]] = [
    (sdk.Message, outbound.MessageDetail),
    (sdk.TimelineEntry, outbound.TimelineEntry),
    (sdk.InboundMessage, InboundMessageView),
    (sdk.PhoneNumber, NumberView),
    (sdk.SendDecision, compliance.SendDecision),
    (sdk.Check, compliance.Check),
    (sdk.DoubleOptIn, compliance.DoubleOptInView),
    (sdk.Consent, compliance.ConsentDetail),
    (sdk.Conversation, inbound.ConversationView),
    (sdk.ConversationMessage, inbound.ConversationMessageView),
    (sdk.ApiKey, accounts.ApiKeyView),
    (sdk.KeyCaps, accounts.KeyCaps),
    (sdk.KeyUsage, accounts.KeyUsage),
    (sdk.Balance, accounts.BalanceView),
]


def _properties(cls: type[msgspec.Struct]) -> tuple[dict[str, Any], set[str]]:
    """The JSON Schema properties of ``cls`` (references resolved one level) and its required ones."""
    (ref,), defs = msgspec.json.schema_components([cls])
    schema = defs[ref["$ref"].rsplit("/", 1)[-1]]
    return schema.get("properties", {}), set(schema.get("required", []))


def _json_type(prop: dict[str, Any]) -> set[str]:
    """The JSON types a property may hold (a reference is an object; ``anyOf`` joins its members')."""
    if "$ref" in prop:
        return {"object"}
    if "anyOf" in prop:
        return set().union(*(_json_type(p) for p in prop["anyOf"]))
    kind = prop.get("type", "any")
    return set(kind) if isinstance(kind, list) else {kind}


@pytest.mark.parametrize(("model", "view"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_an_sdk_model_reads_only_what_its_api_view_writes(model: type[msgspec.Struct],
                                                          view: type[msgspec.Struct]) -> None:
    mine, required = _properties(model)
    theirs, sent = _properties(view)
    assert set(mine) <= set(theirs), f"{model.__name__} reads fields the API never writes: {set(mine) - set(theirs)}"
    assert required <= sent, f"{model.__name__} requires fields the API may leave out: {required - sent}"
    for name, prop in mine.items():
        if _json_type(prop) == {"any"} or _json_type(theirs[name]) == {"any"}:
            continue
        assert _json_type(theirs[name]) <= _json_type(prop), (model.__name__, name, theirs[name], prop)
