"""What outbound puts in one NATS request stays inside NATS's 1 MB message whatever the texts and however
many messages are dispatched at once: its final checks and its carrier submissions go at most so many a
request, and that many of the longest texts fit (a request over the limit would be refused as a whole, and
its messages retried into the same refusal)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import msgspec

from libs.carrier.client import CarrierClient
from libs.obs.settings import load_settings
from libs.sms import MAX_TEXT_CHARS
from proto.base import new_id
from proto.commands.carrier import SubmitMessage, SubmitMessages
from proto.commands.compliance import EvaluateSend, EvaluateSends
from services.outbound.config import OutboundSettings
from services.outbound.dispatcher import Dispatcher

NATS_MAX_PAYLOAD = 1024 * 1024
LONGEST = "\U0001f600" * MAX_TEXT_CHARS  # 4 octets each in UTF-8


def test_a_request_of_the_longest_texts_fits_in_a_nats_message() -> None:
    settings = load_settings(OutboundSettings, {"AM_DISPATCH_CONCURRENCY": "2000", "AM_DISPATCH_BATCH": "2000"})
    checks = Dispatcher(cast(Any, SimpleNamespace(schema="outbound")), cast(Any, None), cast(Any, None),
                        settings)._checks.max_batch
    submissions = CarrierClient(cast(Any, None), timeout_s=1.0)._submissions.max_batch
    assert 0 < checks < 2000 and 0 < submissions < 2000
    org = new_id()
    evaluate = EvaluateSends(sends=[EvaluateSend(
        org_id=org, message_id=new_id(), from_="+14155550100", to="+14155550199", text=LONGEST, stage="submit",
        category="marketing") for _ in range(checks)])
    submit = SubmitMessages(messages=[SubmitMessage(
        org_id=org, message_id=new_id(), from_="+14155550100", to="+14155550199", text=LONGEST)
        for _ in range(submissions)])
    for request in (evaluate, submit):
        assert len(msgspec.json.encode(request)) < NATS_MAX_PAYLOAD * 0.9
