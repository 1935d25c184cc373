"""The consumers inbound owns here: none (the conversations read model's two consumers are in
conversations.py). For its messages inbound consumes no other domain's events — who owns a number and where
its webhook goes are asked of numbers (``resolve_inbound``) at ingest and again at each delivery attempt, so a
changed URL or a rotated secret applies at once. The webhook queue is this service's own table
(services/inbound/webhooks.py), not a stream consumer, so that retries can be scheduled hours ahead."""

from __future__ import annotations

from libs.bus.consumer import ConsumerSpec

CONSUMERS: list[ConsumerSpec] = []
