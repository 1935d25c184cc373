"""am.cmd.accounts.* endpoints."""

from __future__ import annotations

from libs.bus.rpc import Registry
from proto.commands import accounts as c
from services.accounts.handlers import Accounts


def commands(h: Accounts) -> Registry:
    """What this service answers: each command class with its handler."""
    return {
        c.Signup: h.signup,
        c.Authenticate: h.authenticate,
        c.CreateKey: h.create_key,
        c.ListKeys: h.list_keys,
        c.RevokeKey: h.revoke_key,
        c.GetLoginCredentials: h.login_credentials,
        c.StartSession: h.start_session,
        c.AuthenticateSession: h.authenticate_session,
        c.ListSessions: h.list_sessions,
        c.EndSession: h.end_session,
        c.EndSessions: h.end_sessions,
        c.GetBalance: h.balance,
        c.ReserveCredit: h.reserve,
        c.ReserveCredits: h.reserve_many,
        c.SettleCredit: h.settle,
    }
