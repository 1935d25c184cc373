"""Routes: phone-number search, orders, settings, webhook-secret rotation, release."""

from __future__ import annotations

from proto.commands import numbers as c
from proto.http.numbers import (
    AvailableNumberView,
    NumbersQuery,
    NumberView,
    OrderNumbersBody,
    OrderView,
    PatchNumberBody,
    SearchNumbersBody,
)
from services.gateway.api import Ctx, Reply, Route, listing, on_resource

TAG = "phone numbers"


async def search(ctx: Ctx) -> Reply:
    b: SearchNumbersBody = ctx.body
    res = await ctx.call(c.SearchNumbers(
        org_id=ctx.org_id, area_code=b.area_code, quantity=b.quantity, contains=b.contains, region=b.region))
    return Reply(res.data)


async def order(ctx: Ctx) -> Reply:
    b: OrderNumbersBody = ctx.body
    res = await ctx.call(c.OrderNumbers(org_id=ctx.org_id, numbers=b.numbers,
                                            order_id=ctx.resource_id), timeout=30)
    return Reply(res, status=201)


async def patch(ctx: Ctx) -> Reply:
    res = await ctx.call(c.ConfigureNumber(
        org_id=ctx.org_id, phone_number_id=ctx.path["id"], patch=ctx.body))
    return Reply(res)


async def rotate(ctx: Ctx) -> Reply:
    res = await ctx.call(c.RotateWebhookSecret(
        org_id=ctx.org_id, phone_number_id=ctx.path["id"], rotation_id=ctx.resource_id))
    return Reply(res)


ROUTES = [
    Route("POST", "/v1/phone-numbers/search", search, "Search available numbers (a preview, not a reservation)", TAG,
          body=SearchNumbersBody, response=list[AvailableNumberView], errors=("CARRIER_UNAVAILABLE",),
          description="area_code must be a valid NANP area code; quantity 1-100 (default 5)."),
    Route("POST", "/v1/phone-numbers/orders", order, "Order numbers: all or nothing, paid from credit", TAG,
          body=OrderNumbersBody, response=OrderView, status=201,
          errors=("NUMBER_UNAVAILABLE", "INSUFFICIENT_CREDIT", "CARRIER_UNAVAILABLE"),
          description="The numbers are yours when the call returns and receive texts at once. "
                      "data.phone_numbers[i].id is the phone_number_id later calls take. If any number is no "
                      "longer available nothing is ordered and error.details.unavailable names them."),
    Route("GET", "/v1/phone-numbers", listing(c.ListNumbers), "List your numbers", TAG, query=NumbersQuery,
          response=list[NumberView], paginated=True),
    Route("GET", "/v1/phone-numbers/{id}", on_resource(c.ShowNumber, "phone_number_id"), "Get a number", TAG,
          response=NumberView),
    Route("PATCH", "/v1/phone-numbers/{id}", patch, "Configure a number (inbound_url, friendly_name, ...)", TAG,
          body=PatchNumberBody, response=NumberView,
          description="inbound_url must be https (http to loopback only in dev) and must not resolve to a private "
                      "address. The first inbound_url creates the number's webhook_secret, which signs each push "
                      "(X-AmCore-Signature)."),
    Route("POST", "/v1/phone-numbers/{id}/webhook-secret/rotate", rotate, "Rotate the number's webhook secret", TAG,
          response=NumberView,
          description="The new secret signs at once; the previous one also signs for 24 hours (both v1= values are "
                      "in X-AmCore-Signature), so receivers can switch without dropping a message."),
    Route("DELETE", "/v1/phone-numbers/{id}", on_resource(c.ReleaseNumber, "phone_number_id"),
          "Release a number back to the carrier", TAG, response=NumberView, errors=("CARRIER_UNAVAILABLE",),
          description="The number stops receiving and sending at once; its messages not yet handed to the carrier "
                      "(scheduled or queued) end canceled with error_code NUMBER_RELEASED and are refunded."),
]
