"""accounts bootstrap."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from libs.obs.settings import load_settings
from libs.runtime.service import Service
from services.accounts import rpc, subscriptions
from services.accounts.config import AccountsSettings
from services.accounts.handlers import Accounts


def build(env: Mapping[str, str] | None = None) -> tuple[Service, object]:
    settings = load_settings(AccountsSettings, env)
    svc = Service("accounts", settings, domain="accounts", sql_dir=Path(__file__).parent / "sql")

    async def setup(s: Service) -> None:
        h = Accounts(s.store, settings)
        await s.rpc_server.serve(rpc.commands(h))
        for spec in subscriptions.specs(h):
            s.consumer(spec)

    return svc, setup
