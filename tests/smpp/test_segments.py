"""The number of submit_sm parts the carrier service sends equals the segments outbound charged."""

from __future__ import annotations

import random

from services.carrier import model as carrier
from services.outbound import rules as outbound

ALPHABET = "abc XYZ 019 €[]{}^~|\\ éüñ ж 日 👋 \n"


def test_parts_equal_segments_for_many_texts() -> None:
    rng = random.Random(17)
    for _ in range(3000):
        n = rng.randint(0, 700)
        pool = ALPHABET if rng.random() < 0.5 else ALPHABET[:24]  # half of them GSM-7 only
        body = "".join(rng.choice(pool) for _ in range(n))
        segments, encoding = outbound.count_segments(body)
        parts = carrier.submit_pdus("+14155550100", "+15551234567", body, ref=1)
        assert len(parts) == segments, (body, segments, len(parts))
        assert {p.number("data_coding") for p in parts} == {0 if encoding == "GSM-7" else 8}
