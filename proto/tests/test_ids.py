"""new_id: random version-4 UUIDs in canonical text form."""

from __future__ import annotations

import uuid

from proto.base import new_id, parse_uuid


def test_new_ids_are_canonical_version_4_uuids_and_do_not_repeat() -> None:
    ids = [new_id() for _ in range(20_000)]  # several refills of the random buffer
    assert len(set(ids)) == len(ids)
    for text in ids[:: 97]:
        u = uuid.UUID(text)
        assert u.version == 4 and u.variant == uuid.RFC_4122 and str(u) == text == parse_uuid(text)
