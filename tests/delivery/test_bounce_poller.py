"""The bounce mailbox is read while delivery runs (mailgui/delivery/bounce_poller.py): only when it is set up, by
one worker per queue file (a lease in the queue), against a real Dovecot (tests/realservers/dovecot.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery.bounce_poller import LEASE, NOT_SET_UP_CHECK, BouncePoller
from mailgui.queue import Attempt, Queue, RecipientResult, RecipientStatus
from mailgui.settings import Settings
from tests.logfail import Allowed
from tests.queue.helpers import outgoing
from tests.realservers.dovecot import Mailbox
from tests.reports import dsn


def sent(queue: Queue, clock: FakeClock) -> tuple[int, str]:
    mid = queue.enqueue(outgoing(to="bob@example.org"))
    queue.claim_due("w", 10, 60)
    result = RecipientResult("bob@example.org", RecipientStatus.DELIVERED, 250, "ok")
    queue.record_attempt(mid, "w", Attempt(clock.now(), 0.1, "relay:25", (result,)), None)
    return mid, queue.get_message(mid).summary.message_id


@pytest.fixture
def mailbox_settings(imap_settings: Settings) -> Settings:
    """The test Dovecot's mailbox (tests/realservers/dovecot.py), read every two minutes."""
    imap_settings.set("bounces.imap.poll_interval", "120")
    return imap_settings


async def test_nothing_is_read_until_a_mailbox_is_set_up(authorized: Queue, db_path: Path, clock: FakeClock) -> None:
    poller = BouncePoller(db_path, "w1", clock)
    assert await poller.read_once() == NOT_SET_UP_CHECK
    assert poller.reads == 0


async def test_a_report_in_the_mailbox_reaches_the_queue_and_only_one_worker_reads(
    authorized: Queue, db_path: Path, clock: FakeClock, imap_mailbox: Mailbox, mailbox_settings: Settings
) -> None:
    mid, message_id = sent(authorized, clock)
    imap_mailbox.append(dsn(message_id, [("bob@example.org", "5.1.1", "550 5.1.1 User unknown")]))
    first, second = BouncePoller(db_path, "w1", clock), BouncePoller(db_path, "w2", clock)

    assert await first.read_once() == 120
    assert await second.read_once() == 120  # w1 holds the reader's lease: w2 leaves the mailbox alone
    assert (first.reads, second.reads) == (1, 0)
    assert [r.status for r in authorized.get_message(mid).summary.recipients] == ["failed"]

    clock.advance(2 * 120)  # w1 stopped renewing: its lease ran out, w2 takes over
    assert await second.read_once() == 120 and second.reads == 1


@pytest.mark.allow_log(Allowed("mailgui.delivery.bounce_poller", logging.WARNING, r"^bounce mailbox: "))
async def test_a_mailbox_that_cannot_be_read_is_one_warning_until_the_reason_changes(
    authorized: Queue, db_path: Path, clock: FakeClock, mailbox_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox_settings.set("bounces.imap.port", "1")  # nothing listens there
    poller = BouncePoller(db_path, "w1", clock)
    for _ in range(3):
        await poller.read_once()
    warnings = [r for r in caplog.records if r.name == "mailgui.delivery.bounce_poller"]
    assert len(warnings) == 1 and "bounces.imap" in warnings[0].getMessage()
    assert poller.reads == 0


def test_the_readers_lease_is_held_by_one_owner_at_a_time(authorized: Queue, clock: FakeClock) -> None:
    assert authorized.take_lease(LEASE, "w1", 60)
    assert not authorized.take_lease(LEASE, "w2", 60)
    assert authorized.take_lease(LEASE, "w1", 60)  # renewed by its holder
    clock.advance(61)
    assert authorized.take_lease(LEASE, "w2", 60)
    authorized.drop_lease(LEASE, "w2")
    assert authorized.take_lease(LEASE, "w1", 60)
