"""amctl: filters for events tail, and the CLI against a running gateway and NATS."""

from __future__ import annotations

from proto.subjects import Subjects
from services.amctl.events import filters_for


def test_filters_per_domain() -> None:
    s = Subjects()
    assert filters_for(s, "am.>", None)["outbound"] == "am.outbound.>"
    assert filters_for(s, "am.outbound.>", None) == {"outbound": "am.outbound.>"}
    assert filters_for(s, "am.>", "org1")["inbound"] == "am.inbound.*.*.org1"
    assert filters_for(s, "am.outbound.message.message_queued.*", None) == {
        "outbound": "am.outbound.message.message_queued.*"}
