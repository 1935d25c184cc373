"""new_id: time-ordered version-7 UUIDs (RFC 9562) in canonical text form."""

from __future__ import annotations

import time
import uuid

from proto.base import new_id, parse_uuid


def test_new_ids_are_canonical_version_7_uuids_and_do_not_repeat() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(20_000)]  # several refills of the random buffer
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids[:: 97]:
        u = uuid.UUID(text)
        assert u.version == 7 and u.variant == uuid.RFC_4122 and str(u) == text == parse_uuid(text)
        assert before <= u.int >> 80 <= after  # the first 48 bits: when it was made, in Unix milliseconds


def test_ids_made_in_later_milliseconds_sort_later() -> None:
    # (what keeps the indexes over them appending at their right edge, however large they grow)
    first = new_id()
    t = time.monotonic()
    while time.monotonic() - t < 0.002:  # into a later millisecond
        pass
    later = [new_id() for _ in range(1000)]
    assert all(first < x for x in later)
    assert sorted(uuid.UUID(x).int >> 80 for x in later) == [uuid.UUID(x).int >> 80 for x in later]
