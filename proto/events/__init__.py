"""Every event type, by domain. ``decode_event`` decodes any of them with one Decoder built once."""

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


@functools.cache
def _decoder() -> msgspec.json.Decoder[Any]:
    types = tuple(all_event_types())
    return msgspec.json.Decoder(Union[types])  # type: ignore[valid-type]  # noqa: UP007


def decode_event(data: bytes | str) -> Event:
    ev: Event = _decoder().decode(data)
    return ev


_encoder = msgspec.json.Encoder()


def encode_event(ev: Event) -> bytes:
    return _encoder.encode(ev)
