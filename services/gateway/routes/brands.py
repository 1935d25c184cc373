"""Routes: 10DLC brands and campaigns, and the numbers on campaigns."""

from __future__ import annotations

from proto.commands import numbers as c
from proto.http.tendlc import (
    BrandBody,
    BrandView,
    CampaignBody,
    CampaignNumbersBody,
    CampaignView,
    ListQuery,
    ResubmitBody,
)
from services.gateway.api import Ctx, Reply, Route, listing, on_resource

TAG = "10DLC"


async def register_brand(ctx: Ctx) -> Reply:
    res = await ctx.call(c.RegisterBrand(org_id=ctx.org_id, brand=ctx.body,
                                            brand_id=ctx.resource_id), timeout=20)
    return Reply(res, status=201)


async def create_campaign(ctx: Ctx) -> Reply:
    res = await ctx.call(c.CreateCampaign(org_id=ctx.org_id, campaign=ctx.body,
                                                campaign_id=ctx.resource_id), timeout=20)
    return Reply(res, status=201)


async def resubmit(ctx: Ctx) -> Reply:
    res = await ctx.call(c.ResubmitCampaign(
        org_id=ctx.org_id, campaign_id=ctx.path["id"], edits=ctx.body, submission_id=ctx.resource_id),
        timeout=20)
    return Reply(res)


async def add_numbers(ctx: Ctx) -> Reply:
    b: CampaignNumbersBody = ctx.body
    res = await ctx.call(c.AssignCampaignNumbers(
        org_id=ctx.org_id, campaign_id=ctx.path["id"], phone_number_ids=b.phone_number_ids))
    return Reply(res)


async def remove_number(ctx: Ctx) -> Reply:
    res = await ctx.call(c.RemoveCampaignNumber(
        org_id=ctx.org_id, campaign_id=ctx.path["id"], phone_number_id=ctx.path["phone_number_id"]))
    return Reply(res)


ROUTES = [
    Route("POST", "/v1/brands", register_brand, "Register a 10DLC brand (identity-checked by the registry)", TAG,
          body=BrandBody, response=BrandView, status=201, errors=("CARRIER_UNAVAILABLE",),
          description="ein and company_name are required except for SOLE_PROPRIETOR. The vetting score sets "
                      "throughput_mpm and daily_cap."),
    Route("GET", "/v1/brands", listing(c.ListBrands), "List your brands", TAG, query=ListQuery,
          response=list[BrandView], paginated=True),
    Route("GET", "/v1/brands/{id}", on_resource(c.ShowBrand, "brand_id"), "Get a brand", TAG, response=BrandView),
    Route("POST", "/v1/campaigns", create_campaign, "Register a 10DLC campaign (goes to carrier review)", TAG,
          body=CampaignBody, response=CampaignView, status=201,
          errors=("BRAND_UNVERIFIED", "NUMBER_ON_OTHER_CAMPAIGN", "CARRIER_UNAVAILABLE"),
          description="Without phone_number_ids, your numbers that are on no other campaign join it, and numbers "
                      "you order later join your only campaign. Sending from them unlocks when status is approved. "
                      "With a status_callback_url, each review outcome is POSTed there, signed with the campaign's "
                      "webhook_secret (X-AmCore-Signature)."),
    Route("GET", "/v1/campaigns", listing(c.ListCampaigns), "List your campaigns", TAG, query=ListQuery,
          response=list[CampaignView], paginated=True),
    Route("GET", "/v1/campaigns/{id}", on_resource(c.ShowCampaign, "campaign_id"), "Get a campaign", TAG,
          response=CampaignView),
    Route("POST", "/v1/campaigns/{id}/resubmit", resubmit, "Edit a rejected campaign and resubmit it", TAG,
          body=ResubmitBody, response=CampaignView, errors=("CARRIER_UNAVAILABLE",),
          description="Fields given replace the campaign's; the others keep their value. Only a rejected campaign "
                      "can be resubmitted (409 CONFLICT otherwise)."),
    Route("POST", "/v1/campaigns/{id}/phone-numbers", add_numbers, "Put numbers on a campaign", TAG,
          body=CampaignNumbersBody, response=CampaignView,
          errors=("NUMBER_ON_OTHER_CAMPAIGN", "SOLE_PROPRIETOR_LIMIT")),
    Route("DELETE", "/v1/campaigns/{id}/phone-numbers/{phone_number_id}", remove_number,
          "Take a number off a campaign", TAG, response=CampaignView),
]
