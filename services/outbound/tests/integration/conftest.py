"""Fixtures of outbound's integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from libs.bus.rpc import RpcServer
from proto.commands.compliance import EvaluateSend, EvaluateSends
from proto.commands.numbers import SenderStatus
from proto.subjects import Subjects
from services.outbound.tests.integration.harness import Fakes, Pipe
from tests.system import running_system


@pytest.fixture
async def make_pipe(settings_env: dict[str, str]) -> AsyncIterator[Any]:
    stack: list[Any] = []

    async def make(extra: dict[str, str] | None = None) -> Pipe:
        cm = running_system(settings_env, extra, only=["accounts", "carrier", "outbound", "gateway"])
        system = await cm.__aenter__()
        stack.append(cm)
        subjects = Subjects(settings_env["AM_SUBJECT_ROOT"])
        nc = await nats.connect(settings_env["AM_NATS_URL"])
        fakes = Fakes()
        for command, fn in ((SenderStatus, fakes.sender_status), (EvaluateSend, fakes.evaluate_send),
                            (EvaluateSends, fakes.evaluate_sends)):
            await RpcServer(nc, subjects, f"fake-{command.DOMAIN}").serve({command: fn})
        stack.append(nc)
        return Pipe(system, fakes, nc, subjects)

    yield make
    for item in reversed(stack):
        if isinstance(item, Client):
            await item.close()
        else:
            await item.__aexit__(None, None, None)


@pytest.fixture
async def pipe(make_pipe: Any) -> Pipe:
    p: Pipe = await make_pipe()
    await p.onboard()
    return p
