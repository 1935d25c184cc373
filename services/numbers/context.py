"""What numbers' command handlers (numbers, orders, 10DLC) work with: the event store, the settings and
the carrier."""

from __future__ import annotations

from libs.carrier.http_api import Carrier
from libs.store.eventstore import EventStore
from services.numbers.config import NumbersSettings


class Handlers:
    def __init__(self, store_: EventStore, settings: NumbersSettings, carrier: Carrier):
        self.store = store_
        self.settings = settings
        self.carrier = carrier
