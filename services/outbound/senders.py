"""The sending numbers as numbers answers for them (sender_status), remembered a short while: a number
that can send is kept for ``accept_sender_cache_s`` and forgotten at once when any numbers event of its
organization arrives; a refusal is never remembered (``libs.cache``)."""

from __future__ import annotations

from nats.aio.client import Client

from libs.bus.rpc import RpcClient
from libs.cache import TtlCache, evict_on
from proto.base import CommandError
from proto.commands.numbers import SenderInfo, SenderStatus
from proto.subjects import Subjects


class Senders:
    def __init__(self, rpc: RpcClient, ttl_s: float):
        self.rpc = rpc
        self._senders: TtlCache[tuple[str, str], SenderInfo] = TtlCache(ttl_s, group=lambda key: key[0])
        """Per (organization, number): a sender_status answer that allowed sending."""

    async def get(self, org_id: str, from_: str) -> SenderInfo:
        """The sending number's state from numbers (FROM_NUMBER_NOT_FOUND when it is not the org's)."""
        try:
            return await self._senders.load((org_id, from_), lambda: self.rpc.call(
                SenderStatus(org_id=org_id, e164=from_)), keep=lambda info: info.sending_enabled)
        except CommandError as exc:
            if exc.code == "NOT_FOUND":
                raise CommandError(
                    "FROM_NUMBER_NOT_FOUND",
                    f"from: {from_} is not one of your organization's numbers; order it first "
                    "(POST /v1/phone-numbers/orders)", 400, {"field": "from"}) from exc
            raise

    async def follow(self, nc: Client, subjects: Subjects) -> None:
        """Forget an organization's remembered numbers on any numbers event of it (a number configured,
        released or moved to a campaign, a campaign reviewed or suspended, a brand vetted)."""
        # <root>.numbers.<aggregate>.<event>.<org id>
        await evict_on(nc, subjects.domain_wildcard("numbers"),
                       lambda msg: self._senders.evict_group(msg.subject.rpartition(".")[2]))
