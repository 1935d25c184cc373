"""Routes: dashboard sessions — log in (a public endpoint), who am I, log out, log out everywhere.

The session token travels only in the HttpOnly ``am_session`` cookie; the answer carries the session's
``csrf_token``, which every /v1 request made with that cookie sends as ``X-CSRF-Token``.
"""

from __future__ import annotations

import msgspec

from proto.base import CommandError
from proto.commands import accounts as c
from proto.http.accounts import LoginBody, SessionCreated, SessionListed, SessionsEnded
from services.gateway.api import Ctx, Reply, Route
from services.gateway.sessions import COOKIE, SESSIONS_KEY, csrf_token

TAG = "sessions"


async def login(ctx: Ctx) -> Reply:
    b: LoginBody = ctx.body
    sessions = ctx.request.app[SESSIONS_KEY]
    sessions.same_origin(ctx.request)  # no log-in CSRF: another site cannot log you in to its account
    token, v = await sessions.login(b.email, b.password, ctx.request.headers.get("User-Agent", ""))
    data = SessionCreated(id=v.id, user_id=v.user_id, org_id=v.org_id, email=v.email,
                          organization_name=v.organization_name, created_at=v.created_at,
                          expires_at=v.expires_at, csrf_token=csrf_token(token))
    return Reply(data, status=201, session_cookie=token, headers={"Cache-Control": "no-store"})


def _session(ctx: Ctx) -> str:
    if not ctx.session_id:
        raise CommandError("NOT_FOUND", "no session: this request was authenticated with an API key", 404)
    return ctx.session_id


async def current(ctx: Ctx) -> Reply:
    sessions = ctx.request.app[SESSIONS_KEY]
    _session(ctx)
    v = await sessions.lookup(ctx.request.cookies.get(COOKIE))
    if v is None:
        raise CommandError("UNAUTHORIZED", "the session ended or expired; log in again", 401)
    return Reply(v)


async def logout(ctx: Ctx) -> Reply:
    session_id = _session(ctx)
    res = await ctx.call(c.EndSession(org_id=ctx.org_id, session_id=session_id))
    ctx.request.app[SESSIONS_KEY].evict(set(res.session_ids))
    return Reply(SessionsEnded(ended=res.ended), clear_session_cookie=True)


async def list_sessions(ctx: Ctx) -> Reply:
    res = await ctx.call(c.ListSessions(org_id=ctx.org_id, user_id=ctx.user_id or None))
    return Reply([SessionListed(**msgspec.structs.asdict(v), current=v.id == ctx.session_id) for v in res.data])


async def end_one(ctx: Ctx) -> Reply:
    res = await ctx.call(c.ListSessions(org_id=ctx.org_id, user_id=ctx.user_id or None))
    if ctx.path["id"] not in {v.id for v in res.data}:  # only the caller's own (or its organization's)
        raise CommandError("NOT_FOUND", "session not found", 404)
    ended = await ctx.call(c.EndSession(org_id=ctx.org_id, session_id=ctx.path["id"]))
    ctx.request.app[SESSIONS_KEY].evict(set(ended.session_ids))
    return Reply(SessionsEnded(ended=ended.ended), clear_session_cookie=ctx.path["id"] == ctx.session_id)


async def logout_everywhere(ctx: Ctx) -> Reply:
    res = await ctx.call(c.EndSessions(org_id=ctx.org_id, user_id=ctx.user_id or None))
    ctx.request.app[SESSIONS_KEY].evict(set(res.session_ids))
    return Reply(SessionsEnded(ended=res.ended), clear_session_cookie=bool(ctx.session_id))


ROUTES = [
    Route("POST", "/v1/sessions", login, "Log in to the dashboard (start a session)", TAG, body=LoginBody,
          response=SessionCreated, status=201, auth=False, errors=("INVALID_CREDENTIALS", "CSRF_FAILED", "RATE_LIMITED"),
          description="Open (no key). Verifies the email and password and sets the session in an HttpOnly, "
                      "SameSite=Lax cookie `am_session` (Secure outside dev). The answer's csrf_token must be "
                      "sent as `X-CSRF-Token` on every /v1 request authenticated by that cookie (403 CSRF_FAILED "
                      "otherwise). A browser request from another origin is refused (403 CSRF_FAILED). Limited per client "
                      "address and per email (AM_LOGIN_RATE_PER_MIN)."),
    Route("GET", "/v1/sessions/current", current, "The session this request was made with", TAG,
          response=c.SessionView, description="404 when the request was authenticated with an API key."),
    Route("DELETE", "/v1/sessions/current", logout, "Log out (end this session)", TAG, response=SessionsEnded,
          description="Ends the session and clears its cookie; every gateway replica forgets it at once."),
    Route("GET", "/v1/sessions", list_sessions, "List live sessions", TAG, response=list[SessionListed],
          description="With a session: its user's live sessions (current marks this one). With an API key: every "
                      "live dashboard session of the organization."),
    Route("DELETE", "/v1/sessions/{id}", end_one, "End one session (log a browser out)", TAG,
          response=SessionsEnded, description="Another of your live sessions, or this one (which also clears "
                                              "the cookie); every gateway replica forgets it at once."),
    Route("DELETE", "/v1/sessions", logout_everywhere, "Log out everywhere (end every session)", TAG,
          response=SessionsEnded,
          description="With a session: ends every session of its user, this one included. With an API key: "
                      "ends every dashboard session of the organization."),
]
