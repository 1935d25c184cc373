"""am.cmd.numbers.* endpoints."""

from __future__ import annotations

from libs.runtime.service import Service
from proto.commands import numbers as c
from services.numbers.handlers import Numbers
from services.numbers.orders import Orders
from services.numbers.review import Review
from services.numbers.tendlc import TenDlc


async def register(svc: Service, n: Numbers, o: Orders, t: TenDlc, review: Review) -> None:
    r = svc.rpc_server
    # used by other services (contracts in proto/commands/numbers.py)
    await r.register("resolve_inbound", c.ResolveInbound, n.resolve_inbound)
    await r.register("sender_status", c.SenderStatus, n.sender_status)
    await r.register("get_number", c.GetNumber, n.get_number)
    # the public API, through the gateway
    await r.register("search_numbers", c.SearchNumbers, o.search)
    await r.register("order_numbers", c.OrderNumbers, o.order)
    await r.register("list_numbers", c.ListNumbers, n.list)
    await r.register("show_number", c.ShowNumber, n.show)
    await r.register("configure_number", c.ConfigureNumber, n.configure)
    await r.register("rotate_webhook_secret", c.RotateWebhookSecret, n.rotate_secret)
    await r.register("release_number", c.ReleaseNumber, n.release)
    await r.register("register_brand", c.RegisterBrand, t.register_brand)
    await r.register("list_brands", c.ListBrands, t.list_brands)
    await r.register("show_brand", c.ShowBrand, t.show_brand)
    await r.register("create_campaign", c.CreateCampaign, t.create_campaign)
    await r.register("list_campaigns", c.ListCampaigns, t.list_campaigns)
    await r.register("show_campaign", c.ShowCampaign, t.show_campaign)
    # the operator (amctl campaigns approve|reject)
    await r.register("review_campaign", c.ReviewCampaign, review.review_campaign)
    await r.register("resubmit_campaign", c.ResubmitCampaign, t.resubmit)
    await r.register("assign_campaign_numbers", c.AssignCampaignNumbers, t.assign_numbers)
    await r.register("remove_campaign_number", c.RemoveCampaignNumber, t.remove_number)
