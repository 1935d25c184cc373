"""The carrier service's submit command, never twice (alone, or many in one request, each answered as
alone): asked again it answers the first outcome (carrier id, refusal), and a submission interrupted after
it may have left (its attempt marker found, stale) is answered SUBMISSION_UNCONFIRMED — recorded as an
event — instead of being sent again."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.msg import Msg

from libs.bus.rpc import RpcClient
from libs.carrier.client import CarrierClient
from libs.carrier.http_api import CarrierError
from libs.embedded.ports import free_port
from libs.testing import SLACK
from proto.base import CommandError
from proto.commands.carrier import SubmitMessage, SubmitMessages, Submitted
from proto.subjects import Subjects
from tests.smpp.node import NodeSmsc
from tests.system import System, running_system


@pytest.fixture
async def smsc() -> AsyncIterator[NodeSmsc]:
    s = NodeSmsc(free_port())
    await s.start()
    await s.send(cmd="set", receipts=False)
    yield s
    await s.stop()


def cmd(to: str = "+15550000001", text: str = "hi") -> SubmitMessage:
    return SubmitMessage(org_id=str(uuid.uuid4()), message_id=str(uuid.uuid4()), from_="+14155550100", to=to,
                         text=text)


async def submit(system: System, rpc: RpcClient, c: SubmitMessage) -> Submitted | CommandError:
    try:
        out: Submitted = await rpc.call(c, timeout=10 * SLACK)
        return out
    except CommandError as exc:
        return exc


async def test_asked_again_the_first_outcome_is_answered(settings_env: dict[str, str], smsc: NodeSmsc) -> None:
    env = {"AM_SMPP_URL": smsc.url(), "AM_SMPP_RESPONSE_TIMEOUT_S": "2", "AM_CARRIER_SUBMIT_WAIT_S": "1"}
    async with running_system(settings_env, env, only=["carrier"]) as system:
        nc = await nats.connect(settings_env["AM_NATS_URL"])
        rpc = RpcClient(nc, Subjects(settings_env["AM_SUBJECT_ROOT"]))
        try:
            async def bound() -> bool:
                return bool(smsc.of("bound"))

            await system.eventually(bound)
            ok = cmd()
            first = await submit(system, rpc, ok)
            again = await submit(system, rpc, ok)
            assert isinstance(first, Submitted) and again == first and len(smsc.of("submit_sm")) == 1

            await smsc.send(cmd="set", refuse={"15550000002": 0x0B})
            await smsc.wait(lambda e: e["ev"] == "set", count=2)
            bad = cmd("+15550000002")
            refused, refused_again = await submit(system, rpc, bad), await submit(system, rpc, bad)
            assert isinstance(refused, CommandError) and refused.code == "CARRIER_REJECTED"
            assert refused.details["carrier_code"] == "ESME_RINVDSTADR"
            assert isinstance(refused_again, CommandError) and refused_again.code == "CARRIER_REJECTED"
            assert len(smsc.of("submit_sm")) == 2  # the refusal was not asked twice either

            # a submission interrupted after it may have left: its marker, fresh then stale
            pool = system.services["carrier"].pool
            lost = cmd()
            await pool.execute("INSERT INTO submissions (message_id, org_id, adapter, state) VALUES ($1, $2, 'smpp',"
                               " 'writing')", uuid.UUID(lost.message_id), lost.org_id)
            fresh = await submit(system, rpc, lost)
            assert isinstance(fresh, CommandError) and fresh.code == "CARRIER_UNAVAILABLE"  # maybe still under way
            await pool.execute("UPDATE submissions SET updated_at = now() - interval '1 hour'"
                               " WHERE message_id = $1", uuid.UUID(lost.message_id))
            stale = await submit(system, rpc, lost)
            assert isinstance(stale, CommandError) and stale.code == "SUBMISSION_UNCONFIRMED"
            assert len(smsc.of("submit_sm")) == 2  # never sent again
            types = [r["event_type"] for r in await pool.fetch(
                "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version", f"submission-{lost.message_id}")]
            assert types == ["SubmissionUnconfirmed"]
            assert (await submit(system, rpc, lost)).code == "SUBMISSION_UNCONFIRMED"  # type: ignore[union-attr]

            # nothing bound: nothing sent, try later (and the next try starts clean)
            await smsc.stop()
            later = cmd()
            down = await submit(system, rpc, later)
            assert isinstance(down, CommandError) and down.code == "CARRIER_UNAVAILABLE"
            assert await pool.fetchval("SELECT count(*) FROM submissions WHERE message_id = $1",
                                       uuid.UUID(later.message_id)) == 0
        finally:
            await nc.close()


async def test_submissions_made_together_share_a_request_and_each_is_answered_as_alone(
        settings_env: dict[str, str], smsc: NodeSmsc) -> None:
    env = {"AM_SMPP_URL": smsc.url(), "AM_SMPP_RESPONSE_TIMEOUT_S": "2", "AM_CARRIER_SUBMIT_WAIT_S": "1"}
    async with running_system(settings_env, env, only=["carrier"]) as system:
        nc = await nats.connect(settings_env["AM_NATS_URL"])
        subjects = Subjects(settings_env["AM_SUBJECT_ROOT"])
        rpc = RpcClient(nc, subjects)
        requests: list[int] = []

        async def count(m: Msg) -> None:
            requests.append(len(json.loads(m.data)["messages"]))

        watch = await nc.subscribe(subjects.command(SubmitMessages.DOMAIN, SubmitMessages.NAME), cb=count)
        client = CarrierClient(rpc, timeout_s=10 * SLACK)
        try:
            async def bound() -> bool:
                return bool(smsc.of("bound"))

            await system.eventually(bound)
            await smsc.send(cmd="set", refuse={"15550000002": 0x0B})
            await smsc.wait(lambda e: e["ev"] == "set", count=2)
            before = await submit(system, rpc, earlier := cmd())  # submitted alone, before
            assert isinstance(before, Submitted)
            batch = [earlier, cmd(), cmd("+15550000002"), cmd(text="x" * 200)]
            out = await asyncio.gather(*(client.submit_message(c.from_, c.to, c.text, c.message_id, c.org_id)
                                         for c in batch), return_exceptions=True)
            assert requests == [4]  # one request for the four
            assert out[0] == before.carrier_message_id  # asked again: its first outcome, not a second send
            assert isinstance(out[1], str) and isinstance(out[3], str) and len({out[0], out[1], out[3]}) == 3
            assert isinstance(out[2], CarrierError) and out[2].code == "CARRIER_REJECTED" and not out[2].transient
            assert len(smsc.of("submit_sm")) == 1 + 1 + 1 + 2  # the long one in two parts; the repeat in none
        finally:
            await watch.unsubscribe()
            await client.close()
            await nc.close()
