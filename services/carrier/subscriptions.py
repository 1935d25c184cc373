"""The consumers the carrier service owns: none. It hears from outbound by command
(``am.cmd.carrier.submit_message``) and from upstream carriers over their own protocols."""

from __future__ import annotations

from libs.bus.consumer import ConsumerSpec

CONSUMERS: list[ConsumerSpec] = []
