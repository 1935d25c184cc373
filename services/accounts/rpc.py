"""am.cmd.accounts.* endpoints."""

from __future__ import annotations

from libs.bus.rpc import Registry
from proto.commands import accounts as c
from services.accounts.credit import Credit
from services.accounts.handlers import Accounts


def commands(h: Accounts, credit: Credit) -> Registry:
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
        c.GetBalance: credit.balance,
        c.ReserveCredit: credit.reserve,
        c.ReserveCredits: credit.reserve_many,
        c.SettleCredit: credit.settle,
        c.ListHeldReservations: credit.held,
    }
