"""When to try again: the per-message retry schedule and the relay's own backoff.

Both follow Postfix: a message waits ``min_backoff`` after its first failed attempt, twice as long after each
further one up to ``max_backoff``, and gives up once its lifetime has run out. A little jitter spreads retries
of messages that failed together, so they do not all come back in the same second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from mailgui.settings import Settings

DEFAULT_JITTER = 0.1


@dataclass(frozen=True)
class RetryPolicy:
    """The schedule for one message. ``retry_at`` is None once the message's lifetime is over (give up)."""

    min_backoff: float = 300.0
    max_backoff: float = 4000.0
    lifetime: float = 5 * 24 * 3600.0
    jitter: float = DEFAULT_JITTER  # fraction of the delay, either way
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, jitter: float = DEFAULT_JITTER, rng: random.Random | None = None
    ) -> RetryPolicy:
        return cls(
            min_backoff=settings.get_float("retry.min_backoff"),
            max_backoff=settings.get_float("retry.max_backoff"),
            lifetime=settings.get_float("retry.lifetime"),
            jitter=jitter,
            rng=rng or random.Random(),
        )

    def base_delay(self, attempts: int) -> float:
        """The delay before the next try after ``attempts`` failed attempts (1 = the first), without jitter."""
        doublings = max(0, attempts - 1)
        if doublings > 60:  # 2**60 * anything is past any max_backoff; keeps the float finite
            return max(self.max_backoff, self.min_backoff)
        return min(max(self.max_backoff, self.min_backoff), self.min_backoff * 2.0**doublings)

    def delay(self, attempts: int) -> float:
        base = self.base_delay(attempts)
        if self.jitter <= 0:
            return base
        return base * (1.0 + self.rng.uniform(-self.jitter, self.jitter))

    def retry_at(self, now: float, attempts: int, expires_at: float) -> float | None:
        """When to try a message again after its ``attempts``-th failed attempt at ``now``.

        None when its lifetime is over. The last retry is moved to the end of the lifetime, so a message is
        always tried once more right before it is given up.
        """
        if now >= expires_at:
            return None
        return min(now + self.delay(attempts), expires_at)


@dataclass
class RelayBackoff:
    """The relay as a whole is unwell (refused, timed out, TLS failed, 421, dropped, refused our login).

    Stop claiming until ``until``; each failure after a retry doubles the wait, a success resets it. Several
    sends failing together (they were in flight on several connections) count as one failure.
    """

    first: float = 30.0
    longest: float = 4000.0
    jitter: float = DEFAULT_JITTER
    rng: random.Random = field(default_factory=random.Random, repr=False)
    failures: int = 0
    until: float = 0.0
    since: float | None = None  # when the current bad spell began
    reason: str = ""

    def active(self, now: float) -> bool:
        return self.failures > 0 and now < self.until

    @property
    def unwell(self) -> bool:
        """The last thing we heard from the relay was a failure (even if the wait is over)."""
        return self.failures > 0

    def record_failure(self, now: float, reason: str) -> float:
        """Note a failure at ``now``; returns when the relay may be tried again."""
        self.reason = reason
        if self.since is None:
            self.since = now
        if self.active(now):
            return self.until  # another send of the same spell: already backing off
        self.failures += 1
        base = min(self.longest, self.first * 2.0 ** min(self.failures - 1, 60))
        if self.jitter > 0:
            base *= 1.0 + self.rng.uniform(-self.jitter, self.jitter)
        self.until = now + base
        return self.until

    def record_success(self) -> None:
        self.failures = 0
        self.until = 0.0
        self.since = None
        self.reason = ""
