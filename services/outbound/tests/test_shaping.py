"""Shaping: token buckets per number and campaign, fair round-robin between organizations."""

from __future__ import annotations

from services.outbound.shaping import Candidate, Shaper, TokenBucket


def cand(i: int, org: str = "o1", sender: str = "+14155550100", campaign: str = "c1", mpm: int = 0,
         segments: int = 1) -> Candidate:
    return Candidate(id=f"{org}-{sender}-{i}", org_id=org, sender=sender, campaign=campaign, campaign_mpm=mpm,
                     segments=segments)


def test_bucket_refills_at_its_rate_up_to_capacity() -> None:
    b = TokenBucket.per_minute(60, burst_s=1.0, now=0.0)  # 1 per second, holds 1
    assert b.capacity == 1.0 and b.can_take(1, 0.0)
    b.take(1, 0.0)
    assert not b.can_take(1, 0.5)
    assert abs(b.wait_s(1, 0.5) - 0.5) < 1e-9
    assert b.can_take(1, 1.0)
    assert b.can_take(1, 100.0) and b.tokens == 1.0  # capped


def test_a_message_larger_than_the_bucket_goes_when_full_then_owes() -> None:
    b = TokenBucket.per_minute(60, burst_s=1.0, now=0.0)
    assert b.can_take(5, 0.0)  # 5 segments, bucket of 1: allowed when full
    b.take(5, 0.0)
    assert not b.can_take(1, 4.0)  # paid back over 5 seconds
    assert b.can_take(1, 5.0)


def test_per_number_limit() -> None:
    s = Shaper(number_mpm=60, default_campaign_mpm=6000, burst_s=1.0)
    picks = s.select([cand(i) for i in range(10)], now=0.0, limit=100)
    assert len(picks) == 1  # one per second for this number
    assert s.blocked_senders(0.1) == ["+14155550100"]
    assert s.select([cand(i) for i in range(1, 10)], now=0.5, limit=100) == []
    assert len(s.select([cand(i) for i in range(1, 10)], now=1.0, limit=100)) == 1
    ready = s.next_ready_s(1.0)
    assert ready is not None and abs(ready - 1.0) < 1e-6


def test_per_campaign_limit_spans_its_numbers() -> None:
    # campaign allows 120/min (2 per second of burst), numbers are generous
    s = Shaper(number_mpm=6000, default_campaign_mpm=75, burst_s=1.0)
    cands = [cand(i, sender=f"+1415555010{i}", mpm=120) for i in range(5)]
    picks = s.select(cands, now=0.0, limit=100)
    assert len(picks) == 2
    # another campaign is not held up by the first
    other = [cand(9, sender="+14155550199", campaign="c2", mpm=120)]
    assert len(s.select(other, now=0.0, limit=100)) == 1


def test_default_campaign_rate_when_campaign_says_nothing() -> None:
    s = Shaper(number_mpm=6000, default_campaign_mpm=60, burst_s=1.0)
    assert len(s.select([cand(i, mpm=0) for i in range(5)], now=0.0, limit=100)) == 1


def test_over_limit_is_not_dropped_it_waits() -> None:
    s = Shaper(number_mpm=60, default_campaign_mpm=6000, burst_s=1.0)
    queue = [cand(i) for i in range(5)]
    sent: list[str] = []
    t = 0.0
    while queue:
        for p in s.select(queue, now=t, limit=100):
            sent.append(p.id)
            queue.remove(p)
        t += 0.25
    assert sent == [cand(i).id for i in range(5)]  # all of them, in order
    assert 4.0 <= t <= 4.5  # at the number's rate


def test_round_robin_between_organizations() -> None:
    s = Shaper(number_mpm=60000, default_campaign_mpm=60000, burst_s=1.0)
    big = [cand(i, org="big", sender="+14155550101", campaign="cb") for i in range(50)]
    small = [cand(i, org="small", sender="+14155550102", campaign="cs") for i in range(3)]
    picks = s.select(big + small, now=0.0, limit=6)
    orgs = [p.org_id for p in picks]
    assert orgs.count("small") == 3 and orgs.count("big") == 3
    assert orgs[:2] in (["big", "small"], ["small", "big"])


def test_the_least_recently_served_organization_goes_first() -> None:
    s = Shaper(number_mpm=60000, default_campaign_mpm=60000, burst_s=1.0)
    a = [cand(i, org="a", sender="+14155550101", campaign="ca") for i in range(10)]
    b = [cand(i, org="b", sender="+14155550102", campaign="cb") for i in range(10)]
    first = s.select(a + b, now=0.0, limit=1)
    second = s.select(a + b, now=0.0, limit=1)
    assert {first[0].org_id, second[0].org_id} == {"a", "b"}


def test_a_throttled_org_does_not_block_another() -> None:
    s = Shaper(number_mpm=60, default_campaign_mpm=60000, burst_s=1.0)
    a = [cand(i, org="a", sender="+14155550101", campaign="ca") for i in range(10)]
    b = [cand(i, org="b", sender="+14155550102", campaign="cb") for i in range(2)]
    picks = s.select(a + b, now=0.0, limit=10)
    assert sorted(p.org_id for p in picks) == ["a", "b"]


def test_campaign_rate_change_is_applied() -> None:
    s = Shaper(number_mpm=60000, default_campaign_mpm=60, burst_s=1.0)
    assert len(s.select([cand(i, mpm=60) for i in range(10)], now=0.0, limit=100)) == 1
    # the campaign was re-vetted: 600/min → 10 per second
    picks = s.select([cand(i, mpm=600) for i in range(1, 30)], now=2.0, limit=100)
    assert 1 <= len(picks) <= 10


def test_prune_forgets_idle_full_buckets() -> None:
    s = Shaper(number_mpm=60, default_campaign_mpm=60, burst_s=1.0)
    s.select([cand(0)], now=0.0, limit=1)
    s.prune(now=5.0)
    assert s.numbers  # used recently
    s.prune(now=10_000.0)
    assert not s.numbers and not s.campaigns


def test_blocked_lists_numbers_and_campaigns_without_tokens() -> None:
    s = Shaper(number_mpm=60000, default_campaign_mpm=60, burst_s=1.0)
    s.select([cand(0, sender="+14155550101", campaign="c1"), cand(1, sender="+14155550102", campaign="")],
             now=0.0, limit=10)
    senders, campaigns = s.blocked(0.1)
    assert campaigns == ["c1"]
    assert senders == ["+14155550102"]  # no campaign: the number is its own campaign
    assert s.blocked(5.0) == ([], [])
