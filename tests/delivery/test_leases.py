"""The worker's leases while it holds them: renewed once half gone, never handed to a sender twice, and a
message that is no longer the worker's is not sent."""

from __future__ import annotations

import asyncio
from email import message_from_bytes

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import RelayTarget, Worker
from mailgui.delivery.events import EventHub
from mailgui.delivery.leases import Leases
from mailgui.delivery.queue_thread import QueueThread
from mailgui.queue import Queue, Status
from tests.delivery.conftest import Enqueue
from tests.delivery.test_run import Passes
from tests.smtpserver import SMTPTestServer


def leases_for(queue: Queue, clock: FakeClock, owner: str = "w", seconds: float = 60.0) -> Leases:
    return Leases(QueueThread(queue.path, clock), EventHub(), owner, clock, seconds)


@pytest.mark.allow_log("mailgui.delivery.leases", match=r"no longer held by this worker")
async def test_a_message_claimed_again_by_its_own_worker_is_not_handed_out_twice(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue
) -> None:
    mid = enqueue("bob@example.org")
    leases = leases_for(authorized, clock)
    try:
        [msg] = await leases.claim(10)
        clock.advance(61)  # the lease ran out while the message waited in this worker's feed
        assert await leases.claim(10) == []  # the queue leased it to "w" again: renewed, but no second copy
        lease = authorized.conn.execute("SELECT lease_owner, lease_expires_at FROM messages WHERE id = ?", (mid,))
        assert lease.fetchone() == ("w", clock.now() + 60)
        assert authorized.claim_due("other", 10, 60) == []
        assert await leases.keep(msg)  # the first copy is still this worker's to send
        leases.claimed_at.pop(mid)  # its outcome recorded (the recorder drops it)
        assert not await leases.keep(msg)  # a stray second copy would not be sent
    finally:
        await leases.db.close()


@pytest.mark.allow_log("mailgui.delivery.leases", match=r"(lease lost while held|no longer held by this worker)")
async def test_half_gone_leases_are_renewed_and_lost_ones_dropped(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue
) -> None:
    kept, lost = enqueue("a@example.org"), enqueue("b@example.org")
    leases = leases_for(authorized, clock)
    try:
        claimed = await leases.claim(10)
        assert [m.id for m in claimed] == [kept, lost]
        clock.advance(29)
        await leases.renew()  # not yet half gone: nothing written
        assert authorized.claim_due("other", 10, 60) == []
        clock.advance(32)  # 61 s: both leases ran out; another worker takes one of them
        with authorized.conn:
            authorized.conn.execute(
                "UPDATE messages SET lease_owner = 'other', lease_expires_at = ? WHERE id = ?", (clock.now() + 60, lost)
            )
        await leases.renew()
        assert set(leases.claimed_at) == {kept}
        assert not await leases.keep(claimed[1])
        clock.advance(59)  # 120 s: the kept one's lease was renewed at 61 s to 121 s
        assert authorized.claim_due("other", 10, 60) == []
        assert authorized.get_message(kept).summary.status == Status.SENDING
    finally:
        await leases.db.close()


async def test_a_long_wait_in_the_feed_and_a_long_send_keep_their_leases_and_go_once(
    authorized: Queue,
    clock: FakeClock,
    smtp_server: SMTPTestServer,
    enqueue: Enqueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = RelayTarget("127.0.0.1", smtp_server.port, "none", timeout=5, connections=1)
    worker = Worker(authorized, clock=clock, relay=target, owner="w", lease_seconds=60)
    passes = Passes(worker, monkeypatch)
    smtp_server.hold()  # the first send stays in flight; the others wait in the worker's feed
    ids = [enqueue(f"user{n}@example.org") for n in range(3)]
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(smtp_server.wait_holding(1), 10)
    for _ in range(3):  # 120 s in all, twice the lease; a pass of the loop after each 40 s
        clock.advance(40)
        await passes.whole_pass(run)
        assert authorized.claim_due("other", 10, 60) == []  # still held: renewed, none of them up for grabs
    smtp_server.release()
    while authorized.counts_by_status() != {"sent": 3}:
        await passes.whole_pass(run)
    stop.set()
    await run
    received = [message_from_bytes(r.data)["To"] for r in smtp_server.received]
    assert sorted(received) == sorted(f"user{n}@example.org" for n in range(3))  # each exactly once
    assert all(authorized.get_message(i).summary.attempts == 1 for i in ids)
