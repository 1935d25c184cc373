"""expected_send_at follows the segments queued ahead on the sending number: a 5-segment message takes 5
tokens of the number's throughput."""

from __future__ import annotations

from datetime import datetime

from tests.e2e.test_outbound import onboard, system_with


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_expected_send_at_counts_the_segments_ahead(settings_env: dict[str, str]) -> None:
    # one segment a second: the first message takes the bucket, the rest wait their tokens
    async with system_with(settings_env, number_throughput_mpm="60") as system:
        org = await onboard(system)
        contact = await org.new_contact()
        status, first = await org.send(contact, text="first")
        assert status == 202, first
        long = "x" * 700  # GSM-7: 5 segments of 153
        status, big = await org.send(contact, text=long)
        assert status == 202 and big["data"]["segments"] == 5, big
        status, small = await org.send(contact, text="small one")
        assert status == 202, small
        status, big2 = await org.send(contact, text=long + " again")
        assert status == 202, big2

        # whatever has gone meanwhile, each message's wait grows by the segments ahead of it: the
        # small one waits for the 5 segments of the long one, the second long one for 1 more
        views = {m: await org.message(b["data"]["id"]) for m, b in (("big", big), ("small", small), ("big2", big2))}
        queued = {k: v for k, v in views.items() if v["status"] == "queued"}
        if "small" in queued and "big" in queued:
            gap = (at(queued["small"]["expected_send_at"]) - at(queued["big"]["expected_send_at"])).total_seconds()
            assert 4 <= gap <= 6, views
        assert "small" in queued and "big2" in queued, views  # 5 + 1 tokens cannot have passed yet
        gap = (at(queued["big2"]["expected_send_at"]) - at(queued["small"]["expected_send_at"])).total_seconds()
        assert 0 <= gap <= 2, views
        # and the answer to the send said the same, counted from when it was accepted
        accepted = (at(small["data"]["expected_send_at"]) - at(small["data"]["created_at"])).total_seconds()
        assert 5 <= accepted <= 8, small
