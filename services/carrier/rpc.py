"""am.cmd.carrier.* endpoints: outbound submits, ops read the status."""

from __future__ import annotations

from libs.bus.rpc import Bounded, Registry
from proto.commands import carrier as c
from services.carrier.handlers import Carrier


def commands(h: Carrier) -> Registry:
    """What this service answers: each command class with its handler."""
    return {
        c.SubmitMessage: Bounded(h.submit, concurrency=1024),
        c.SubmitMessages: Bounded(h.submit_many, concurrency=64),
        c.GetCarrierStatus: h.status,
    }
