"""The sending numbers as numbers answers for them (sender_status), remembered a short while: a number
that can send is kept for ``accept_sender_cache_s`` and forgotten at once when any numbers event of its
organization arrives; a refusal is never remembered."""

from __future__ import annotations

import time

from nats.aio.client import Client
from nats.aio.msg import Msg

from libs.bus.rpc import RpcClient
from proto.base import CommandError
from proto.commands.numbers import SenderInfo, SenderStatus
from proto.subjects import Subjects


class Senders:
    def __init__(self, rpc: RpcClient, ttl_s: float):
        self.rpc = rpc
        self.ttl_s = ttl_s
        self._senders: dict[str, dict[str, tuple[float, SenderInfo]]] = {}
        """Per organization, per number: a sender_status answer that allowed sending, and until when to use it."""
        self._numbers_seen: dict[str, int] = {}
        """Per organization: numbers events seen (an answer asked for before the latest one is not kept)."""

    async def get(self, org_id: str, from_: str) -> SenderInfo:
        """The sending number's state from numbers (FROM_NUMBER_NOT_FOUND when it is not the org's)."""
        hit = self._senders.get(org_id, {}).get(from_)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        asked = self._numbers_seen.get(org_id, 0)
        try:
            info: SenderInfo = await self.rpc.call(SenderStatus(org_id=org_id, e164=from_))
        except CommandError as exc:
            if exc.code == "NOT_FOUND":
                raise CommandError(
                    "FROM_NUMBER_NOT_FOUND",
                    f"from: {from_} is not one of your organization's numbers; order it first "
                    "(POST /v1/phone-numbers/orders)", 400, {"field": "from"}) from exc
            raise
        # (an event of the organization that arrived while we asked may be newer than the answer)
        if info.sending_enabled and self.ttl_s > 0 and self._numbers_seen.get(org_id, 0) == asked:
            if len(self._senders) > 50_000:
                self._senders.clear()
            self._senders.setdefault(org_id, {})[from_] = (time.monotonic() + self.ttl_s, info)
        return info

    async def follow(self, nc: Client, subjects: Subjects) -> None:
        """Forget an organization's remembered numbers on any numbers event of it (a number configured,
        released or moved to a campaign, a campaign reviewed or suspended, a brand vetted)."""

        async def on_msg(msg: Msg) -> None:
            org_id = msg.subject.rpartition(".")[2]  # <root>.numbers.<aggregate>.<event>.<org id>
            if len(self._numbers_seen) > 100_000:  # forget it all rather than grow without end
                self._numbers_seen.clear()
                self._senders.clear()
            self._numbers_seen[org_id] = self._numbers_seen.get(org_id, 0) + 1
            self._senders.pop(org_id, None)

        await nc.subscribe(subjects.domain_wildcard("numbers"), cb=on_msg)
