"""Throughput shaping, pure: token buckets per sending number and per campaign (carrier limits in
segments per minute), and fair round-robin between organizations. Over-limit traffic is not dropped:
it is simply not picked this time and waits in the queue. Time is passed in (monotonic seconds)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float
    """Tokens (segments) per second."""
    capacity: float
    tokens: float
    updated: float

    @classmethod
    def per_minute(cls, per_minute: float, burst_s: float, now: float) -> TokenBucket:
        rate = max(per_minute, 0.001) / 60.0
        cap = max(1.0, rate * burst_s)
        return cls(rate=rate, capacity=cap, tokens=cap, updated=now)

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def retune(self, per_minute: float, burst_s: float, now: float) -> None:
        """The campaign's limit changed: keep the tokens (capped), change the rate."""
        self.refill(now)
        rate = max(per_minute, 0.001) / 60.0
        if abs(rate - self.rate) > 1e-9:
            self.rate = rate
            self.capacity = max(1.0, rate * burst_s)
            self.tokens = min(self.tokens, self.capacity)

    def can_take(self, cost: float, now: float) -> bool:
        """A message larger than the bucket goes when the bucket is full (then the bucket owes)."""
        self.refill(now)
        return self.tokens >= min(cost, self.capacity) - 1e-9

    def take(self, cost: float, now: float) -> None:
        self.refill(now)
        self.tokens -= cost

    def wait_s(self, cost: float, now: float) -> float:
        self.refill(now)
        need = min(cost, self.capacity) - self.tokens
        return 0.0 if need <= 0 else need / self.rate


@dataclass(frozen=True)
class Candidate:
    """A due message as the dispatcher sees it."""

    id: str
    org_id: str
    sender: str
    """The sending number (E.164)."""
    campaign: str
    """The campaign id ('' when unknown: the number is its own campaign)."""
    campaign_mpm: int
    segments: int = 1


@dataclass
class Shaper:
    number_mpm: float
    """Per sending number, segments per minute."""
    default_campaign_mpm: float
    """Per campaign when the campaign does not say."""
    burst_s: float = 1.0
    """Bucket size in seconds of throughput (at least one segment)."""
    numbers: dict[str, TokenBucket] = field(default_factory=dict)
    campaigns: dict[str, TokenBucket] = field(default_factory=dict)
    served: OrderedDict[str, None] = field(default_factory=OrderedDict)
    """Organizations, least recently served first: the next round starts with whoever waited longest."""

    def _number(self, key: str, now: float) -> TokenBucket:
        b = self.numbers.get(key)
        if b is None:
            b = self.numbers[key] = TokenBucket.per_minute(self.number_mpm, self.burst_s, now)
        return b

    def _campaign(self, c: Candidate, now: float) -> TokenBucket:
        key = c.campaign or f"number:{c.sender}"
        mpm = c.campaign_mpm if c.campaign_mpm > 0 else self.default_campaign_mpm
        b = self.campaigns.get(key)
        if b is None:
            b = self.campaigns[key] = TokenBucket.per_minute(mpm, self.burst_s, now)
        else:
            b.retune(mpm, self.burst_s, now)
        return b

    def select(self, candidates: list[Candidate], now: float, limit: int) -> list[Candidate]:
        """Pick up to ``limit`` candidates the buckets allow, taking their tokens: one per organization
        per round (least recently served first), each organization's own in the order given."""
        if limit <= 0 or not candidates:
            return []
        by_org: dict[str, list[Candidate]] = {}
        for c in candidates:
            by_org.setdefault(c.org_id, []).append(c)
        # never served first, then least recently served
        order = [o for o in by_org if o not in self.served] + [o for o in self.served if o in by_org]
        queues = {o: by_org[o][::-1] for o in order}  # reversed: pop() takes the oldest
        blocked_senders: set[str] = set()
        blocked_campaigns: set[str] = set()
        picked: list[Candidate] = []
        while queues and len(picked) < limit:
            for org in list(queues):
                q = queues[org]
                chosen: Candidate | None = None
                while q:
                    c = q.pop()
                    ckey = c.campaign or f"number:{c.sender}"
                    if c.sender in blocked_senders or ckey in blocked_campaigns:
                        continue
                    nb, cb = self._number(c.sender, now), self._campaign(c, now)
                    n_ok, c_ok = nb.can_take(c.segments, now), cb.can_take(c.segments, now)
                    if n_ok and c_ok:
                        nb.take(c.segments, now)
                        cb.take(c.segments, now)
                        chosen = c
                        break
                    if not n_ok:
                        blocked_senders.add(c.sender)
                    if not c_ok:
                        blocked_campaigns.add(ckey)
                if chosen is not None:
                    picked.append(chosen)
                    self.served.pop(org, None)
                    self.served[org] = None  # most recently served goes last
                if not q:
                    del queues[org]
                if len(picked) >= limit:
                    break
        return picked

    def waits(self, sender: str, campaign: str, now: float) -> bool:
        """Whether a message from ``sender`` on ``campaign`` ('' if none) would wait for a token now."""
        nb, cb = self.numbers.get(sender), self.campaigns.get(campaign or f"number:{sender}")
        return (nb is not None and not nb.can_take(1, now)) or (cb is not None and not cb.can_take(1, now))

    def blocked_senders(self, now: float) -> list[str]:
        """Numbers without a whole token: no use fetching their messages now."""
        return [k for k, b in self.numbers.items() if not b.can_take(1, now)]

    def allowances(self, now: float) -> dict[str, int]:
        """For each number with a bucket, how many messages it may send now at most (its whole tokens;
        one at least, as a message larger than the bucket goes when it is full): no use reading more of
        its queue this round. A number without a bucket may send a whole bucket's worth."""
        out: dict[str, int] = {}
        for k, b in self.numbers.items():
            b.refill(now)
            out[k] = max(1, int(b.tokens + 1e-9))
        return out

    def blocked(self, now: float) -> tuple[list[str], list[str]]:
        """(numbers, campaign ids) without a whole token — a number that is its own campaign counts as a
        number — so the next fetch skips them and other traffic is seen."""
        senders = self.blocked_senders(now)
        campaigns: list[str] = []
        for k, b in self.campaigns.items():
            if not b.can_take(1, now):
                if k.startswith("number:"):
                    senders.append(k.removeprefix("number:"))
                else:
                    campaigns.append(k)
        return senders, campaigns

    def next_ready_s(self, now: float) -> float | None:
        """Seconds until the first empty number bucket can send one segment again."""
        waits = [b.wait_s(1, now) for b in (*self.numbers.values(), *self.campaigns.values())]
        pending = [w for w in waits if w > 0]
        return min(pending) if pending else None

    def prune(self, now: float, idle_s: float = 600.0) -> None:
        """Forget full buckets nobody used for a while (a full bucket is what a new one would be)."""
        for table in (self.numbers, self.campaigns):
            for k, b in list(table.items()):
                idle = now - b.updated
                b.refill(now)
                if b.tokens >= b.capacity and idle > idle_s:
                    del table[k]
        while len(self.served) > 100_000:
            self.served.popitem(last=False)
