"""What numbers says about a sending number (may it send, its brand and reply texts), remembered a few
seconds per organization and forgotten on any numbers event of that organization; concurrent asks for
the same number share one request."""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client
from nats.aio.msg import Msg

from libs.runtime.service import Service
from proto.commands.numbers import SenderInfo, SenderStatus
from proto.subjects import Subjects


class Senders:
    def __init__(self, svc: Service, cache_s: float):
        self.svc = svc
        self.cache_s = cache_s
        self._senders: dict[str, dict[str, tuple[float, SenderInfo]]] = {}
        """Per organization, per number: numbers' answer and until when to reuse it."""
        self._numbers_seen: dict[str, int] = {}
        """Per organization: numbers events seen (an answer asked for before the latest one is not kept)."""
        self._inflight: dict[tuple[str, str], asyncio.Future[SenderInfo]] = {}

    async def info(self, org_id: str, number: str, timeout: float | None = None) -> SenderInfo:
        key = (org_id, number)
        hit = self._senders.get(org_id, {}).get(number)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[SenderInfo] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        asked = self._numbers_seen.get(org_id, 0)
        try:
            info: SenderInfo = await self.svc.rpc.call(SenderStatus(org_id=org_id, e164=number),
                                                       timeout=timeout)
        except Exception as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: waiters re-raise it, nobody else has to
            raise
        except BaseException:
            fut.cancel()
            raise
        finally:
            self._inflight.pop(key, None)
        # a refusal is never remembered (it says what is missing, which the next step changes); an answer
        # asked for before a numbers event of the organization is not kept either
        if info.sending_enabled and self._numbers_seen.get(org_id, 0) == asked:
            if len(self._senders) > 50_000:
                self._senders.clear()
            self._senders.setdefault(org_id, {})[number] = (time.monotonic() + self.cache_s, info)
        fut.set_result(info)
        return info

    async def follow(self, nc: Client, subjects: Subjects) -> None:
        """Forget an organization's remembered senders on any numbers event of it (a brand registered, a
        campaign submitted, reviewed or suspended, a number moved or released): the gate's registration
        check then names what is missing now (NO_CAMPAIGN right after the brand), not a few seconds ago."""

        async def on_msg(msg: Msg) -> None:
            org_id = msg.subject.rpartition(".")[2]  # <root>.numbers.<aggregate>.<event>.<org id>
            if len(self._numbers_seen) > 100_000:  # forget it all rather than grow without end
                self._numbers_seen.clear()
                self._senders.clear()
            self._numbers_seen[org_id] = self._numbers_seen.get(org_id, 0) + 1
            self._senders.pop(org_id, None)

        await nc.subscribe(subjects.domain_wildcard("numbers"), cb=on_msg)
