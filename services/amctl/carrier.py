"""The operator's commands about the carrier, over NATS (AM_NATS_URL and the operator's credentials):
``amctl carrier status`` — the carrier service's upstream connections (binds, window in use, errors), its
submissions by state and the receipts waiting for their submission (``am.cmd.carrier.get_status``); and
``amctl campaigns approve|reject`` — the carrier's verdict on a campaign, recorded by the operator where
no carrier API reviews campaigns (``am.cmd.numbers.review_campaign``)."""

from __future__ import annotations

import msgspec

from libs.bus.rpc import RpcClient
from proto.base import CommandError, rfc3339
from proto.commands.carrier import CarrierStatus, GetCarrierStatus
from proto.commands.numbers import ReasonIn, ReviewCampaign, ReviewOutcome
from proto.subjects import Subjects
from services.amctl.events import _connect


async def status(nats_url: str, root: str, as_json: bool) -> int:
    nc = await _connect(nats_url)
    try:
        try:
            st: CarrierStatus = await RpcClient(nc, Subjects(root)).call(GetCarrierStatus())
        except CommandError as exc:
            print(f"carrier service: {exc.code}: {exc.message}")
            return 1
    finally:
        await nc.close()
    if as_json:
        print(msgspec.json.format(msgspec.json.encode(st)).decode())
        return 0 if st.ready else 1
    print(f"adapter {st.adapter}  upstream {st.upstream}  {'ready' if st.ready else 'NOT READY'}")
    for b in st.binds:
        line = f"  {b.name:<6} {b.mode:<5} {b.state:<10} window {b.outstanding}/{b.window}"
        line += f"  tps {b.tps:g}" if b.tps else ""
        line += f"  since {rfc3339(b.bound_since)}" if b.bound_since else ""
        line += f"  ({b.error})" if b.error and b.state != "bound" else ""
        print(line)
    subs = ", ".join(f"{k} {v}" for k, v in sorted(st.submissions.items())) or "none"
    print(f"submissions: {subs}; receipts waiting for their submission: {st.held_receipts}")
    return 0 if st.ready else 1


async def review_campaign(nats_url: str, root: str, campaign_id: str, approved: bool, reasons: list[str]) -> int:
    parsed = [ReasonIn(code=r.split(":", 1)[0].strip(), description=r.split(":", 1)[1].strip() if ":" in r else "")
              for r in reasons]
    nc = await _connect(nats_url)
    try:
        out: ReviewOutcome = await RpcClient(nc, Subjects(root)).call(
            ReviewCampaign(campaign_id=campaign_id, approved=approved, reasons=parsed))
    except CommandError as exc:
        print(f"{exc.code}: {exc.message}")
        return 1
    finally:
        await nc.close()
    print(f"campaign {out.campaign_id} of organization {out.org_id}: {out.status}")
    return 0
