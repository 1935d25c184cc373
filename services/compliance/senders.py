"""What numbers says about a sending number (may it send, its brand and reply texts), remembered a few
seconds per organization and forgotten on any numbers event of that organization; concurrent asks for
the same number share one request (``libs.cache``)."""

from __future__ import annotations

from nats.aio.client import Client

from libs.cache import TtlCache, evict_on
from libs.runtime.service import Service
from proto.commands.numbers import SenderInfo, SenderStatus
from proto.subjects import Subjects


class Senders:
    def __init__(self, svc: Service, cache_s: float):
        self.svc = svc
        self._senders: TtlCache[tuple[str, str], SenderInfo] = TtlCache(cache_s, group=lambda key: key[0])
        """Per (organization, number): numbers' answer, evicted by any numbers event of the organization."""

    async def info(self, org_id: str, number: str, timeout: float | None = None) -> SenderInfo:
        # a refusal is never remembered (it says what is missing, which the next step changes); an answer
        # asked for before a numbers event of the organization is not kept either (libs.cache)
        return await self._senders.load(
            (org_id, number), lambda: self.svc.rpc.call(SenderStatus(org_id=org_id, e164=number), timeout=timeout),
            keep=lambda info: info.sending_enabled)

    async def follow(self, nc: Client, subjects: Subjects) -> None:
        """Forget an organization's remembered senders on any numbers event of it (a brand registered, a
        campaign submitted, reviewed or suspended, a number moved or released): the gate's registration
        check then names what is missing now (NO_CAMPAIGN right after the brand), not a few seconds ago."""
        # <root>.numbers.<aggregate>.<event>.<org id>
        await evict_on(nc, subjects.domain_wildcard("numbers"),
                       lambda msg: self._senders.evict_group(msg.subject.rpartition(".")[2]))
