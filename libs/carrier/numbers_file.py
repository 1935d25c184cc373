"""Numbers and 10DLC without a carrier API: the numbers the operator leases from its carrier, listed in a
file (``AM_NUMBERS_FILE``), and campaign verdicts the operator records (``amctl campaigns approve|reject``)
— until an aggregator's HTTP adapter exists. Messaging goes through the carrier service (SMPP) either way.

The file: one number per line in E.164, optionally ``,<region>,<locality>``; ``#`` starts a comment. It is
read on every search, so adding numbers needs no restart. A brand is taken as verified (the operator
registered it with the registry out of band) with the vetting score ``AM_NUMBERS_FILE_VETTING_SCORE``; a
campaign waits in ``pending_review`` until the operator records the carrier's verdict."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from libs.carrier.http_api import AvailableNumber, BrandResult, CarrierError

Taken = Callable[[list[str]], Awaitable[set[str]]]
"""Which of these numbers an organization holds already (asked of the numbers service's own table)."""


class FileCarrier:
    def __init__(self, path: str, taken: Taken, vetting_score: int = 50):
        self.path = Path(path)
        self.taken = taken
        self.vetting_score = vetting_score

    def leased(self) -> list[AvailableNumber]:
        try:
            lines = self.path.read_text().splitlines()
        except OSError as exc:
            raise CarrierError(f"AM_NUMBERS_FILE {self.path} is unreadable: {exc}", transient=True) from exc
        out: list[AvailableNumber] = []
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            e164, *rest = [x.strip() for x in line.split(",")]
            if e164.startswith("+") and e164[1:].isdigit():
                out.append(AvailableNumber(e164=e164, region=rest[0] if rest else "",
                                           locality=rest[1] if len(rest) > 1 else ""))
        return out

    async def available_numbers(self, area_code: str, quantity: int, contains: str | None = None) -> list[AvailableNumber]:
        found = [n for n in self.leased() if n.e164.startswith("+1" + area_code)
                 and (not contains or contains in n.e164[2:])]
        held = await self.taken([n.e164 for n in found])
        return [n for n in found if n.e164 not in held][:quantity]

    async def assign_numbers(self, numbers: list[str], account_ref: str) -> list[str]:
        leased = {n.e164 for n in self.leased()}
        missing = [n for n in numbers if n not in leased]
        if missing:
            raise CarrierError("not leased", transient=False, status=409, body={"error": "unavailable",
                                                                                "numbers": missing})
        return list(numbers)

    async def release_number(self, number: str, account_ref: str) -> None:
        return None  # the lease is the operator's; the number goes back to the pool in our own table

    async def submit_message(self, from_: str, to: str, text: str, reference: str, org_id: str = "") -> str:
        raise CarrierError("messaging goes through the carrier service (AM_SMPP_URL)", transient=False)

    async def register_brand(self, brand: dict[str, Any]) -> BrandResult:
        return BrandResult(brand_ref=f"file-brand-{uuid.uuid4()}", identity_status="VERIFIED",
                           vetting_score=self.vetting_score)

    async def submit_campaign(self, campaign: dict[str, Any]) -> str:
        return str(campaign.get("campaign_ref") or f"file-campaign-{uuid.uuid4()}")

    async def close(self) -> None:
        return None
