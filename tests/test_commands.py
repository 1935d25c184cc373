"""Commands are named by their classes, never by strings: every command in proto/ is served by exactly one
service's registry, each handler answers its command's reply type, and no source calls a command (or
builds its subject) from a domain and a name written as text."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import typing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import proto.commands
from libs.bus.rpc import Bounded, Registry, check_handler
from proto.base import Command
from proto.commands.accounts import GetBalance, KeyPage
from proto.commands.compliance import ConsentDetail, ConsentView, GetConsent
from proto.subjects import DOMAINS

ROOT = Path(__file__).resolve().parent.parent
HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def _commands() -> list[type[Command[Any]]]:
    for info in pkgutil.iter_modules(proto.commands.__path__):
        importlib.import_module(f"proto.commands.{info.name}")
    found: list[type[Command[Any]]] = []
    stack = list(Command.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("proto.commands."):
            found.append(cls)
    return found


def _bare(cls: type) -> Any:
    """A handler object without its resources: a registry only takes its bound methods."""
    return object.__new__(cls)


def _registries() -> dict[str, Registry]:
    from services.accounts import rpc as accounts
    from services.accounts.handlers import Accounts
    from services.carrier import rpc as carrier
    from services.carrier.handlers import Carrier
    from services.compliance import rpc as compliance
    from services.compliance.gate import Gate
    from services.compliance.handlers import Compliance
    from services.compliance.views import Views
    from services.inbound import rpc as inbound
    from services.inbound.conversations import Conversations
    from services.inbound.handlers import Inbound
    from services.numbers import rpc as numbers
    from services.numbers.handlers import Numbers
    from services.numbers.tendlc import TenDlc
    from services.outbound import rpc as outbound
    from services.outbound.handlers import Outbound

    gate = _bare(Gate)
    gate.settings = SimpleNamespace(gate_concurrency=1)
    return {
        "accounts": accounts.commands(_bare(Accounts)),
        "carrier": carrier.commands(_bare(Carrier)),
        "compliance": compliance.commands(gate, _bare(Compliance), _bare(Views)),
        "inbound": inbound.commands(_bare(Inbound), _bare(Conversations)),
        "numbers": numbers.commands(_bare(Numbers), _bare(TenDlc)),
        "outbound": outbound.commands(_bare(Outbound)),
    }


def test_every_command_is_served_once_by_its_domain_with_its_reply_type() -> None:
    commands = _commands()
    assert len(commands) > 50
    served: dict[type[Command[Any]], str] = {}
    for service, registry in _registries().items():
        for command, entry in registry.items():
            assert command.DOMAIN == service, f"{service} serves {command.__name__} of {command.DOMAIN}"
            assert command not in served, f"{command.__name__} served by {served[command]} and {service}"
            served[command] = service
            handler = entry.handler if isinstance(entry, Bounded) else entry
            assert typing.get_type_hints(handler).get("return"), f"{handler} does not say what it answers"
            check_handler(command, handler)
    assert set(commands) == set(served), f"not served: {set(commands) - set(served)}"
    subjects = [(c.DOMAIN, c.NAME) for c in commands]
    assert len(set(subjects)) == len(subjects)
    assert all(c.DOMAIN in DOMAINS and c.NAME for c in commands)


def test_a_handler_answering_another_type_is_refused() -> None:
    async def wrong(cmd: GetBalance) -> KeyPage:
        raise NotImplementedError

    async def narrower(cmd: GetConsent) -> ConsentDetail:
        raise NotImplementedError

    async def wider(cmd: GetConsent) -> ConsentView:
        raise NotImplementedError

    with pytest.raises(TypeError, match="GetBalance"):
        check_handler(GetBalance, wrong)
    check_handler(GetConsent, narrower)
    with pytest.raises(TypeError):
        check_handler(GetConsent, wider)


def _string_commands(source: str) -> list[int]:
    """The lines of ``x.call("domain", "name", ...)`` and ``subjects.command("domain", "name")``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        if (node.func.attr == "call" and first.value not in HTTP_METHODS) or node.func.attr == "command":
            found.append(node.lineno)
    return sorted(found)


def test_no_command_is_called_by_name() -> None:
    sources = [p for d in ("services", "libs", "tests") for p in (ROOT / d).rglob("*.py")]
    assert len(sources) > 100
    by_name = [f"{p.relative_to(ROOT)}:{line}" for p in sources for line in _string_commands(p.read_text())]
    assert not by_name, f"commands called by strings (call the command's class instead): {by_name}"


def test_the_scan_finds_a_string_call() -> None:
    assert _string_commands('async def f(rpc, system):\n'
                            '    await rpc.call("accounts", "balance", None)\n'
                            '    await rpc.call(GetBalance(org_id="o"))\n'
                            '    await system.call("GET", "/v1/balance")\n'
                            'def g(s):\n'
                            '    return s.command("numbers", "sender_status")\n') == [2, 6]
