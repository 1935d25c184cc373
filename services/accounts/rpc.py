"""am.cmd.accounts.* endpoints."""

from __future__ import annotations

from libs.runtime.service import Service
from proto.commands import accounts as c
from services.accounts.credit import Credit
from services.accounts.handlers import Accounts


async def register(svc: Service, h: Accounts, credit: Credit) -> None:
    r = svc.rpc_server
    await r.register("signup", c.Signup, h.signup)
    await r.register("authenticate", c.Authenticate, h.authenticate)
    await r.register("create_key", c.CreateKey, h.create_key)
    await r.register("list_keys", c.ListKeys, h.list_keys)
    await r.register("revoke_key", c.RevokeKey, h.revoke_key)
    await r.register("login_credentials", c.GetLoginCredentials, h.login_credentials)
    await r.register("start_session", c.StartSession, h.start_session)
    await r.register("authenticate_session", c.AuthenticateSession, h.authenticate_session)
    await r.register("list_sessions", c.ListSessions, h.list_sessions)
    await r.register("end_session", c.EndSession, h.end_session)
    await r.register("end_sessions", c.EndSessions, h.end_sessions)
    await r.register("balance", c.GetBalance, credit.balance)
    await r.register("reserve_credit", c.ReserveCredit, credit.reserve)
    await r.register("reserve_credits", c.ReserveCredits, credit.reserve_many)
    await r.register("settle_credit", c.SettleCredit, credit.settle)
