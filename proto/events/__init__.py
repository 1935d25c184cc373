"""Every event type, by domain. ``decode_event`` decodes any of them with one Decoder built once, and
brings a stored event of an older shape to the current one with its type's ``UPCASTERS``."""

from __future__ import annotations

import functools
from typing import Any, Union

import msgspec

from proto.base import Event
from proto.events import accounts, carrier, compliance, inbound, numbers, outbound  # noqa: F401  (registers types)


def all_event_types() -> list[type[Event]]:
    out: list[type[Event]] = []
    stack: list[type[Event]] = list(Event.__subclasses__())
    while stack:
        cls = stack.pop(0)
        if cls.DOMAIN and not cls.__name__.startswith("_"):
            out.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(out, key=lambda c: (c.DOMAIN, c.__name__))


_encoder = msgspec.json.Encoder()


@functools.cache
def _decoder() -> msgspec.json.Decoder[Any]:
    types = tuple(all_event_types())
    return msgspec.json.Decoder(Union[types])  # type: ignore[valid-type]  # noqa: UP007


@functools.cache
def _by_name() -> dict[str, type[Event]]:
    return {cls.type_name(): cls for cls in all_event_types()}


def decode_event(data: bytes | str) -> Event:
    """The event, in the current shape. One that does not decode as it is (written before a field changed
    type, e.g. a time once ``""``) is decoded again after its type's upcasters ran on its JSON; only that
    rare event pays for a second decode."""
    try:
        ev: Event = _decoder().decode(data)
    except msgspec.ValidationError:
        raw = msgspec.json.decode(data)
        cls = _by_name().get(str(raw.get("type"))) if isinstance(raw, dict) else None
        if cls is None or not cls.UPCASTERS:
            raise
        for upcast in cls.UPCASTERS:
            upcast(raw)
        ev = _decoder().decode(_encoder.encode(raw))
    return ev


def encode_event(ev: Event) -> bytes:
    return _encoder.encode(ev)
