"""Backoff: how long to wait before the next try of something that failed — the one formula every
retry in the system uses (webhook and callback deliveries, carrier resubmissions, consumer naks).

Exponential from ``base_s``, doubled per failure, capped at ``cap_s``; with ``rand`` (a draw in [0, 1)) it
is *equal jitter*: half the step fixed, half random, so receivers recovering together are not stampeded
in lockstep and the delay never drops below half the step. Pure: the caller passes the random draw, so
tests pin it.
"""

from __future__ import annotations

from dataclasses import dataclass

_MAX_EXPONENT = 60
"""2**60 times any base is past every cap; a larger exponent would only overflow the float."""


def backoff(attempt: int, base_s: float, cap_s: float, rand: float | None = None) -> float:
    """Seconds to wait after the ``attempt``-th failure (1-based): ``min(cap_s, base_s * 2**(attempt-1))``,
    and with ``rand`` in [0, 1) somewhere in its upper half (``step/2 + step/2 * rand``)."""
    step = min(cap_s, base_s * 2.0 ** min(max(attempt - 1, 0), _MAX_EXPONENT))
    if rand is None:
        return step
    return step / 2 + step / 2 * min(max(rand, 0.0), 1.0)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again and when to stop: :func:`backoff` between tries, until ``max_attempts`` tries
    were made or ``window_s`` has passed since the work was queued (whichever is set and comes first)."""

    base_s: float
    """Delay before the first retry; doubled for each further one."""
    cap_s: float
    """Largest delay."""
    window_s: float | None = None
    """Retries go on until at least this long after queueing; the first failure past it is final."""
    max_attempts: int | None = None
    """At most this many tries in all."""

    def delay(self, failures: int, rand: float) -> float:
        """Delay after the ``failures``-th failed try (1-based), jittered by ``rand`` in [0, 1)."""
        return backoff(failures, self.base_s, self.cap_s, rand)

    def next_delay(self, elapsed_s: float, failures: int, rand: float) -> float | None:
        """Seconds until the next try, or None: give up (dead letter). ``elapsed_s`` counts from queueing,
        ``failures`` the tries that failed so far, this one included."""
        if self.window_s is not None and elapsed_s >= self.window_s:
            return None
        if self.max_attempts is not None and failures >= self.max_attempts:
            return None
        return self.delay(failures, rand)
