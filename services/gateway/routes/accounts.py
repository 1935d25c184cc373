"""Routes: signup, API keys, balance."""

from __future__ import annotations

from proto.commands import accounts as c
from proto.http.accounts import CreateKeyBody, PageQuery, SignupBody
from services.gateway import credentials
from services.gateway.api import EVICT_KEY, Ctx, Reply, Route


async def signup(ctx: Ctx) -> Reply:
    """The password is hashed and the key made here: neither secret is ever sent to accounts."""
    b: SignupBody = ctx.body
    secret = credentials.new_api_key_secret()
    out = await ctx.call("accounts", "signup", c.Signup(
        email=b.email, password_hash=await credentials.hash_password(b.password),
        organization_name=b.organization_name, key_hash=credentials.hash_key(secret),
        key_prefix=credentials.display_prefix(secret), org_id=ctx.resource_id), c.SignupOutcome)
    if out.created:  # a repeat that found the organization made already never shows a secret
        out.result.api_key.secret = secret
    return Reply(out.result, status=201)


async def create_key(ctx: Ctx) -> Reply:
    secret = credentials.new_api_key_secret()
    out = await ctx.call("accounts", "create_key", c.CreateKey(
        org_id=ctx.org_id, name=ctx.body.name, key_hash=credentials.hash_key(secret),
        prefix=credentials.display_prefix(secret), key_id=ctx.resource_id), c.KeyCreated)
    if out.created:  # the secret made here is this key's only when this request stored it
        out.key.secret = secret
    return Reply(out.key, status=201)


async def list_keys(ctx: Ctx) -> Reply:
    q: PageQuery = ctx.query
    page = await ctx.call("accounts", "list_keys", c.ListKeys(org_id=ctx.org_id, limit=q.limit, cursor=q.cursor),
                          c.KeyPage)
    return Reply(page.data, meta={"next_cursor": page.next_cursor})


async def revoke_key(ctx: Ctx) -> Reply:
    res = await ctx.call("accounts", "revoke_key", c.RevokeKey(org_id=ctx.org_id, key_id=ctx.path["id"]),
                         c.ApiKeyView)
    ctx.request.app[EVICT_KEY](res.id)
    return Reply(res)


async def balance(ctx: Ctx) -> Reply:
    q: PageQuery = ctx.query
    res = await ctx.call("accounts", "balance", c.GetBalance(org_id=ctx.org_id, limit=q.limit, cursor=q.cursor),
                         c.BalanceView)
    return Reply({"balance": res.balance, "currency": res.currency, "entries": res.entries},
                 meta={"next_cursor": res.next_cursor})


ROUTES = [
    Route("POST", "/v1/signup", signup, "Create an organization, its owner and its first API key", "accounts",
          body=SignupBody, response=c.SignupResult, status=201, auth=False,
          errors=("EMAIL_TAKEN", "RATE_LIMITED"),
          description="Open (no key). The secret at data.api_key.secret is shown this once. Starts with $5.00."),
    Route("POST", "/v1/api-keys", create_key, "Create an API key (the secret is shown once)", "accounts",
          body=CreateKeyBody, response=c.ApiKeyView, status=201),
    Route("GET", "/v1/api-keys", list_keys, "List API keys (never their secrets)", "accounts",
          query=PageQuery, response=list[c.ApiKeyView], paginated=True),
    Route("DELETE", "/v1/api-keys/{id}", revoke_key, "Revoke an API key", "accounts", response=c.ApiKeyView),
    Route("GET", "/v1/balance", balance, "Credit balance and ledger entries", "accounts", query=PageQuery,
          response=c.BalanceView, paginated=True),
]
