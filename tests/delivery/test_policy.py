"""The retry schedule, and what a reply code means (RFC 5321 / RFC 3463)."""

from __future__ import annotations

import random

import pytest

from mailgui.delivery import Outcome, RetryPolicy, enhanced_status, outcome_of
from mailgui.queue import Queue
from mailgui.settings import Settings


def test_schedule_doubles_from_min_to_max_backoff() -> None:
    policy = RetryPolicy(min_backoff=300, max_backoff=4000, jitter=0)
    assert [policy.delay(n) for n in range(1, 8)] == [300, 600, 1200, 2400, 4000, 4000, 4000]
    assert policy.delay(10_000) == 4000  # no overflow after many attempts


def test_retry_time_stops_at_the_end_of_the_lifetime_then_gives_up() -> None:
    policy = RetryPolicy(min_backoff=300, max_backoff=4000, jitter=0)
    assert policy.retry_at(1000, 1, expires_at=10_000) == 1300
    assert policy.retry_at(9_900, 5, expires_at=10_000) == 10_000  # one last try right at the end
    assert policy.retry_at(10_000, 6, expires_at=10_000) is None  # lifetime over: give up


def test_jitter_stays_within_its_fraction() -> None:
    policy = RetryPolicy(min_backoff=300, jitter=0.1, rng=random.Random(3))
    delays = [policy.delay(1) for _ in range(500)]
    assert 270 <= min(delays) < 280 and 320 < max(delays) <= 330


def test_policy_comes_from_the_retry_settings(queue: Queue) -> None:
    settings = Settings(queue)
    assert RetryPolicy.from_settings(settings).base_delay(1) == 300  # Postfix's defaults
    assert RetryPolicy.from_settings(settings).lifetime == 5 * 86400
    settings.set("retry.min_backoff", "60")
    settings.set("retry.max_backoff", "200")
    settings.set("retry.lifetime", "3600")
    policy = RetryPolicy.from_settings(settings, jitter=0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [60, 120, 200, 200]
    assert policy.lifetime == 3600


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (250, Outcome.DELIVERED),
        (251, Outcome.DELIVERED),
        (421, Outcome.TEMPORARY),
        (451, Outcome.TEMPORARY),
        (452, Outcome.TEMPORARY),
        (550, Outcome.PERMANENT),
        (554, Outcome.PERMANENT),
        (999, Outcome.PERMANENT),
        (100, Outcome.PERMANENT),
    ],
)
def test_reply_class_decides(code: int, outcome: Outcome) -> None:
    assert outcome_of(code) is outcome


@pytest.mark.parametrize(
    ("code", "text", "status"),
    [
        (550, "5.1.1 <bob@example.org>: Recipient address rejected", "5.1.1"),
        (452, "4.2.2 Mailbox full", "4.2.2"),
        (550, "No such user here", "5.0.0"),  # no enhanced code: the class alone
        (450, "5.1.1 odd server", "4.0.0"),  # an enhanced code that contradicts the reply class is ignored
        (421, "  4.3.2 Service shutting down", "4.3.2"),
        (None, "", "4.0.0"),
    ],
)
def test_enhanced_status_comes_from_the_reply_text(code: int | None, text: str, status: str) -> None:
    assert enhanced_status(code, text) == status
