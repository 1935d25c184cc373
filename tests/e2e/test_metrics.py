"""/metrics of a running system, parsed with prometheus_client's text parser: the series ops watch exist
and move with the traffic (a message sent and delivered, a gate decision, a carrier submission)."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from libs.embedded.ports import free_port
from services.inbound.ops_metrics import QUERIES as inbound_queries
from services.outbound.ops_metrics import QUERIES as outbound_queries
from tests.e2e.test_outbound import onboard, system_with
from tests.system import running_system

DB_SERVICES = {"accounts", "numbers", "compliance", "outbound", "inbound"}
ALWAYS = {  # unlabelled gauges: one sample from the first refresh on
    "am_receipts_pending", "am_receipt_lag_seconds", "am_status_callback_backlog",
    "am_status_callback_oldest_seconds", "am_webhook_backlog", "am_webhook_oldest_seconds",
}


def parse(text: str) -> dict[str, list[Any]]:
    """sample name -> samples (a histogram's _bucket/_count/_sum and a counter's _total under their own
    names); a family without samples yet (a labelled gauge nobody set) maps to []."""
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        out.setdefault(family.name, [])
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


async def test_metrics_answer_ops_questions(settings_env: dict[str, str]) -> None:
    # the HTTP carrier API, whose receipts and texts arrive on the carrier service's own routes
    async with system_with(settings_env, metrics_interval_s="0.2", smpp_url="") as system:
        assert system.http is not None
        org = await onboard(system)
        contact = await org.new_contact()
        status, body = await org.send(contact)
        assert status == 202, body
        await org.until_terminal([body["data"]["id"]])

        async def scrape(port: int) -> dict[str, list[Any]]:
            assert system.http is not None
            async with system.http.get(f"http://127.0.0.1:{port}/metrics") as r:
                assert r.status == 200
                return parse(await r.text())

        async def complete() -> dict[str, list[Any]] | None:
            series = await scrape(system.services["outbound"].port)
            needed = ALWAYS | {"am_outbox_lag_seconds", "am_consumer_pending", "am_messages",
                               "am_carrier_submit_seconds_count", "am_gate_decisions_total",
                               "am_events_relayed_total", "am_http_seconds_count"}
            return series if all(series.get(n) for n in needed) else None

        series = await system.eventually(complete, timeout=15, interval=0.2)

        # messages by status (in flight) and by status change
        assert {s.labels["status"] for s in series["am_messages"]} >= {"scheduled", "queued", "sending", "sent"}
        # queue depth per sender: labelled by number, only while messages are queued (none left now)
        assert "am_queue_depth" in series
        relayed = {s.labels["event"]: s.value for s in series["am_events_relayed_total"]
                   if s.labels["service"] == "outbound"}
        assert any(e.startswith("message.") for e in relayed), relayed
        # outbox lag of every service with an event store
        assert {s.labels["service"] for s in series["am_outbox_lag_seconds"]} >= DB_SERVICES
        assert all(s.value >= 0 for s in series["am_outbox_lag_seconds"])
        # consumer pending / ack pending / redelivered per durable
        durables = {(s.labels["stream"], s.labels["durable"]) for s in series["am_consumer_pending"]}
        assert durables and durables == {(s.labels["stream"], s.labels["durable"])
                                         for s in series["am_consumer_redelivered"]}
        assert durables == {(s.labels["stream"], s.labels["durable"]) for s in series["am_consumer_ack_pending"]}
        # carrier submit latency, gate decisions, HTTP by route and status
        accepted = [s for s in series["am_carrier_submit_seconds_count"] if s.labels["outcome"] == "accepted"]
        assert accepted and accepted[0].value >= 1
        assert any(s.labels["outcome"] == "allow" and s.value >= 1 for s in series["am_gate_decisions_total"])
        assert any(s.labels["route"] == "POST /v1/messages" and s.labels["status"] == "202"
                   for s in series["am_http_seconds_count"])
        # the services' own endpoints too: the carrier's delivery receipt reached outbound
        assert any(s.labels["route"] == "POST /carrier/dlr" and s.labels["status"] == "200"
                   for s in series["am_http_seconds_count"]), [s.labels for s in series["am_http_seconds_count"]]
        for name in ALWAYS:
            assert len(series[name]) == 1 and series[name][0].value >= 0, name
        # every query behind those gauges runs (a failing one would only log and keep the gauge at 0)
        for service, queries in (("outbound", outbound_queries), ("inbound", inbound_queries)):
            for q in queries:
                await q.collect(system.services[service].pool)


async def test_metrics_port_keeps_metrics_off_the_public_port(settings_env: dict[str, str]) -> None:
    """AM_METRICS_PORT (Kubernetes): /metrics only there, not on the gateway's public port."""
    ports = {name: free_port() for name in ("gateway", "outbound")}
    per_service = {name: {"AM_METRICS_PORT": str(port)} for name, port in ports.items()}
    only = ["accounts", "outbound", "gateway"]
    async with running_system(settings_env, per_service=per_service, only=only) as system:
        assert system.http is not None
        async with system.http.get(f"{system.gateway}/metrics") as r:
            assert r.status == 404
        async with system.http.get(f"{system.gateway}/healthz") as r:
            assert r.status == 200
        for name, port in ports.items():
            async with system.http.get(f"http://127.0.0.1:{port}/metrics") as r:
                assert r.status == 200, name
                assert "am_outbox_lag_seconds" in parse(await r.text())
        async with system.http.get(f"http://127.0.0.1:{system.services['accounts'].port}/metrics") as r:
            assert r.status == 200  # without the setting, on the service's own port as before
