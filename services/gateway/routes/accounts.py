"""Routes: signup, API keys, balance."""

from __future__ import annotations

import asyncio

from proto.base import CommandError
from proto.commands import accounts as c
from proto.http.accounts import CreateKeyBody, PageQuery, SignupBody
from services.gateway import credentials
from services.gateway.api import EVICT_KEY, Ctx, Reply, Route
from services.gateway.scopes import key_grants
from services.gateway.usage import GUARD_KEY


async def signup(ctx: Ctx) -> Reply:
    """The password is hashed and the key made here: neither secret is ever sent to accounts."""
    b: SignupBody = ctx.body
    secret = credentials.new_api_key_secret()
    out = await ctx.call(c.Signup(
        email=b.email, password_hash=await credentials.hash_password(b.password),
        organization_name=b.organization_name, key_hash=credentials.hash_key(secret),
        key_prefix=credentials.display_prefix(secret), org_id=ctx.resource_id))
    if out.created:  # a repeat that found the organization made already never shows a secret
        out.result.api_key.secret = secret
    return Reply(out.result, status=201)


async def create_key(ctx: Ctx) -> Reply:
    b: CreateKeyBody = ctx.body
    scopes, caps = key_grants(b)
    secret = credentials.new_api_key_secret()
    out = await ctx.call(c.CreateKey(
        org_id=ctx.org_id, name=b.name, key_hash=credentials.hash_key(secret),
        prefix=credentials.display_prefix(secret), key_id=ctx.resource_id, scopes=scopes, caps=caps))
    if out.created:  # the secret made here is this key's only when this request stored it
        out.key.secret = secret
    return Reply(out.key, status=201)


async def list_keys(ctx: Ctx) -> Reply:
    q: PageQuery = ctx.query
    page = await ctx.call(c.ListKeys(org_id=ctx.org_id, limit=q.limit, cursor=q.cursor))
    usage = ctx.request.app[GUARD_KEY].usage
    if usage is not None and page.data:
        found: list[c.KeyUsage | None]
        try:
            found = list(await asyncio.gather(*(usage.usage(k.id) for k in page.data)))
        except CommandError:  # counters unreachable: the keys without their usage (null), not a 503
            found = [None] * len(page.data)
        for k, u in zip(page.data, found, strict=True):
            k.usage = u
    return Reply.page(page)


async def revoke_key(ctx: Ctx) -> Reply:
    res = await ctx.call(c.RevokeKey(org_id=ctx.org_id, key_id=ctx.path["id"]))
    ctx.request.app[EVICT_KEY](res.id)
    return Reply(res)


async def balance(ctx: Ctx) -> Reply:
    q: PageQuery = ctx.query
    res = await ctx.call(c.GetBalance(org_id=ctx.org_id, limit=q.limit, cursor=q.cursor))
    return Reply({"balance": res.balance, "currency": res.currency, "entries": res.entries},
                 meta={"next_cursor": res.next_cursor})


ROUTES = [
    Route("POST", "/v1/signup", signup, "Create an organization, its owner and its first API key", "accounts",
          body=SignupBody, response=c.SignupResult, status=201, auth=False,
          errors=("EMAIL_TAKEN", "RATE_LIMITED"),
          description="Open (no key). The secret at data.api_key.secret is shown this once. Starts with $5.00."),
    Route("POST", "/v1/api-keys", create_key, "Create an API key (the secret is shown once)", "accounts",
          body=CreateKeyBody, response=c.ApiKeyView, status=201, errors=("SCOPE_REQUIRED", "KEY_CAPPED"),
          description="scopes (or a preset: full, send-only, read-only) limit what the key may do; caps limit "
                      "how much (spend_per_day, sends_per_minute, sends_per_day), to whom (allowed_recipients, "
                      "allowed_from: E.164 numbers or prefixes) and until when (expires_at). Without scopes the "
                      "key has full access. Requests outside them answer 403 SCOPE_REQUIRED, 403 "
                      "RECIPIENT_NOT_ALLOWED, 429 CAP_EXCEEDED (with Retry-After) or, once expired, 401. A key with scopes "
                      "grants only scopes it has (else 403 SCOPE_REQUIRED); a key with caps creates no keys "
                      "(403 KEY_CAPPED)."),
    Route("GET", "/v1/api-keys", list_keys, "List API keys (never their secrets) with their usage", "accounts",
          query=PageQuery, response=list[c.ApiKeyView], paginated=True,
          description="usage: sends this UTC minute, sends and spend this UTC day, counted at the gateway."),
    Route("DELETE", "/v1/api-keys/{id}", revoke_key, "Revoke an API key", "accounts", response=c.ApiKeyView),
    Route("GET", "/v1/balance", balance, "Credit balance and ledger entries", "accounts", query=PageQuery,
          response=c.BalanceView, paginated=True),
]
