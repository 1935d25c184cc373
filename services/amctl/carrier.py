"""``amctl carrier status``: the carrier service's upstream connections (binds, window in use, errors),
its submissions by state and the receipts waiting for their submission — asked over NATS
(``am.cmd.carrier.get_status``), so it needs AM_NATS_URL (and the operator's NATS credentials)."""

from __future__ import annotations

import msgspec
import nats

from libs.bus.rpc import RpcClient
from proto.base import CommandError
from proto.commands.carrier import CarrierStatus, GetCarrierStatus
from proto.subjects import Subjects


async def status(nats_url: str, root: str, as_json: bool) -> int:
    nc = await nats.connect(nats_url, name="amctl")
    try:
        try:
            st: CarrierStatus = await RpcClient(nc, Subjects(root)).call(
                "carrier", "get_status", GetCarrierStatus(), CarrierStatus)
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
        line += f"  since {b.bound_since}" if b.bound_since else ""
        line += f"  ({b.error})" if b.error and b.state != "bound" else ""
        print(line)
    subs = ", ".join(f"{k} {v}" for k, v in sorted(st.submissions.items())) or "none"
    print(f"submissions: {subs}; receipts waiting for their submission: {st.held_receipts}")
    return 0 if st.ready else 1
