"""am.cmd.numbers.* endpoints."""

from __future__ import annotations

from libs.bus.rpc import Registry
from proto.commands import numbers as c
from services.numbers.handlers import Numbers
from services.numbers.tendlc import TenDlc


def commands(n: Numbers, t: TenDlc) -> Registry:
    """What this service answers: each command class with its handler."""
    return {
        # used by other services (contracts in proto/commands/numbers.py)
        c.ResolveInbound: n.resolve_inbound,
        c.SenderStatus: n.sender_status,
        c.GetNumber: n.get_number,
        # the public API, through the gateway
        c.SearchNumbers: n.search,
        c.OrderNumbers: n.order,
        c.ListNumbers: n.list,
        c.ShowNumber: n.show,
        c.ConfigureNumber: n.configure,
        c.RotateWebhookSecret: n.rotate_secret,
        c.ReleaseNumber: n.release,
        c.RegisterBrand: t.register_brand,
        c.ListBrands: t.list_brands,
        c.ShowBrand: t.show_brand,
        c.CreateCampaign: t.create_campaign,
        c.ListCampaigns: t.list_campaigns,
        c.ShowCampaign: t.show_campaign,
        # the operator (amctl campaigns approve|reject)
        c.ReviewCampaign: t.review_campaign,
        c.ResubmitCampaign: t.resubmit,
        c.AssignCampaignNumbers: t.assign_numbers,
        c.RemoveCampaignNumber: t.remove_number,
    }
