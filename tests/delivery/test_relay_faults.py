"""When the relay itself fails: every recipient waits, the relay is backed off, and the reason is kept."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import RelayBackoff, RelayTarget, StateEvent, Worker
from mailgui.queue import Queue, Status
from tests.delivery.conftest import Enqueue
from tests.delivery.helpers import make_worker, states
from tests.logfail import expect_relay_failures
from tests.smtpserver import SMTPTestServer, TLSFiles

# Relay faults are what this module is about: the worker says so at WARNING each time.
pytestmark = expect_relay_failures


@pytest.fixture
async def worker(authorized: Queue, clock: FakeClock, target: RelayTarget) -> AsyncIterator[Worker]:
    w = make_worker(authorized, clock, target)
    yield w
    await w.aclose()


def assert_all_waiting(queue: Queue, ids: list[int], failed_id: int, reason: str, relay_retry: float) -> None:
    """The message that was tried is deferred with the reason; the rest were never tried, and wait for the
    relay's next try, deferred to it with the same reason (so the queue view says why, and until when)."""
    failed = queue.get_message(failed_id).summary
    assert failed.status == Status.DEFERRED
    assert failed.attempts == 1
    assert reason in (failed.last_reply or "")
    assert all(r.status == "pending" for r in failed.recipients)
    for other in ids:
        if other != failed_id:
            s = queue.get_message(other).summary
            assert (s.status, s.attempts, s.next_attempt_at) == (Status.DEFERRED, 0, relay_retry)
            assert (s.last_reply or "").startswith("delivery temporarily suspended: ")
            assert reason in (s.last_reply or "")
            assert all(r.status == "pending" for r in s.recipients)


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (
            lambda s: setattr(s, "greeting", "421 4.3.2 Service not available, closing transmission channel"),
            "421 4.3.2",
        ),
        (lambda s: s.answer_mail("421 4.7.0 Too many connections, try later"), "421 4.7.0"),
        (lambda s: s.refuse("bob@example.org", "421 4.4.2 Shutting down"), "421 4.4.2"),
        (lambda s: setattr(s, "drop_data", 1), "closed the connection during DATA"),
    ],
    ids=["421-greeting", "421-mail", "421-rcpt", "dropped-before-data-reply"],
)
async def test_relay_failure_defers_the_message_and_backs_off(
    worker: Worker,
    authorized: Queue,
    smtp_server: SMTPTestServer,
    clock: FakeClock,
    enqueue: Enqueue,
    setup,  # type: ignore[no-untyped-def]
    reason: str,
) -> None:
    setup(smtp_server)
    ids = [enqueue("bob@example.org") for _ in range(6)]
    states_seen: list[str] = []
    worker.subscribe(lambda e: states_seen.append(e.state.name) if isinstance(e, StateEvent) else None)

    await worker.run_once()

    assert smtp_server.connection_attempts == 1  # one try, not one per message
    tried = [i for i in ids if authorized.get_message(i).summary.attempts]
    assert len(tried) == 1
    assert_all_waiting(authorized, ids, tried[0], reason, clock.now() + 30)
    assert authorized.get_message(tried[0]).summary.next_attempt_at == clock.now() + 300
    assert worker.state.name == "unreachable"
    assert worker.state.since == clock.now()
    assert reason in worker.state.reason
    assert worker.state.retry_at == clock.now() + 30
    assert "unreachable" in states_seen
    assert smtp_server.received == []
    assert all(authorized.get_message(i).report_ids == () for i in ids)  # nothing failed: nothing to report

    # During the backoff nothing connects; after it, one connection finds the relay well and sends all.
    clock.advance(29)
    await worker.run_once()
    assert smtp_server.connection_attempts == 1
    smtp_server.accept()
    clock.advance(1)
    await worker.run_once()
    assert worker.state.name == "running"
    assert {authorized.get_message(i).summary.status for i in ids} == {Status.SENT, Status.DEFERRED}
    clock.advance(300)
    await worker.run_once()
    assert {authorized.get_message(i).summary.status for i in ids} == {Status.SENT}
    # The dropped message was never taken by the server, so each message arrived exactly once.
    assert sorted(r.data for r in smtp_server.received) == sorted(authorized.get_message(i).raw for i in ids)


async def test_a_connection_dropped_mid_data_defers_every_recipient_and_the_message_arrives_intact_later(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    """The server answers 354, reads part of the message, and hangs up: nothing was delivered to anyone."""
    body = "".join(f"Line {n} of a message long enough to be cut in the middle.\n" for n in range(40))
    mid = enqueue("bob@example.org", cc=["carol@example.org"], bcc="dan@example.org", body=body)
    raw = authorized.get_message(mid).raw
    smtp_server.cut_data = 1
    smtp_server.cut_after = len(raw) // 2

    await worker.run_once()

    [cut] = smtp_server.cut_at
    assert 0 < cut < len(raw)  # really mid-DATA: part of the message had arrived
    assert smtp_server.received == []
    summary = authorized.get_message(mid).summary
    assert (summary.status, summary.attempts) == (Status.DEFERRED, 1)
    assert "closed the connection during DATA" in (summary.last_reply or "")
    assert states(authorized, mid) == {
        "bob@example.org": ("pending", None),
        "carol@example.org": ("pending", None),
        "dan@example.org": ("pending", None),
    }
    assert summary.next_attempt_at == clock.now() + 300
    assert authorized.get_message(mid).report_ids == ()  # nothing failed: no report
    assert worker.state.name == "unreachable" and worker.state.retry_at == clock.now() + 30  # relay backed off

    clock.advance(29)
    await worker.run_once()
    assert smtp_server.connection_attempts == 1  # left alone during the backoff
    clock.advance(271)  # the message's own retry time
    await worker.run_once()
    assert authorized.get_message(mid).summary.status == Status.SENT
    assert worker.state.name == "running"
    [arrived] = smtp_server.received
    assert arrived.data == raw  # byte for byte what was queued
    assert sorted(arrived.rcpt_tos) == ["bob@example.org", "carol@example.org", "dan@example.org"]


async def test_421_at_the_end_of_data_defers_every_recipient_and_the_message_arrives_once_later(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    """The server reads the whole message, then answers the final dot with 421: nobody got it."""
    t0 = clock.now()
    mid = enqueue("bob@example.org", cc="carol@example.org")
    raw = authorized.get_message(mid).raw
    smtp_server.answer_data("421 4.3.0 Server shutting down", times=1)

    await worker.run_once()

    assert smtp_server.connections[0].commands.count("DATA") == 1  # the message went up, to its final dot
    assert smtp_server.received == []
    summary = authorized.get_message(mid).summary
    assert (summary.status, summary.attempts, summary.next_attempt_at) == (Status.DEFERRED, 1, t0 + 300)
    assert "421 4.3.0 Server shutting down" in (summary.last_reply or "")
    assert states(authorized, mid) == {"bob@example.org": ("pending", 421), "carol@example.org": ("pending", 421)}
    assert authorized.get_message(mid).report_ids == ()
    assert worker.state.name == "unreachable" and worker.backoff.until == t0 + 30
    assert "421 4.3.0" in worker.state.reason

    clock.set(t0 + 300)
    await worker.run_once()
    assert authorized.get_message(mid).summary.status == Status.SENT
    assert worker.state.name == "running"
    [arrived] = smtp_server.received  # exactly once
    assert arrived.data == raw
    assert arrived.rcpt_tos == ("bob@example.org", "carol@example.org")
    assert authorized.get_message(mid).report_ids == ()


async def test_421_to_one_rcpt_after_another_was_accepted_delivers_to_nobody_now_and_each_once_later(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    """bob's RCPT gets 250, carol's 421 (the server closes): bob was accepted, but no DATA was sent, so bob must
    stay pending as well, and get the message once on the retry."""
    t0 = clock.now()
    mid = enqueue(["bob@example.org", "carol@example.org"])
    raw = authorized.get_message(mid).raw
    smtp_server.refuse("carol@example.org", "421 4.4.2 Shutting down", times=1)

    await worker.run_once()

    assert smtp_server.connections[0].commands[-2:] == ["RCPT", "RCPT"]  # bob, carol; no DATA after
    assert "DATA" not in smtp_server.commands() and smtp_server.received == []
    summary = authorized.get_message(mid).summary
    assert (summary.status, summary.attempts, summary.next_attempt_at) == (Status.DEFERRED, 1, t0 + 300)
    assert {a: st for a, (st, _) in states(authorized, mid).items()} == {
        "bob@example.org": "pending",
        "carol@example.org": "pending",
    }
    assert authorized.get_message(mid).report_ids == ()
    assert worker.state.name == "unreachable" and worker.backoff.until == t0 + 30

    clock.set(t0 + 300)
    await worker.run_once()
    assert authorized.get_message(mid).summary.status == Status.SENT
    assert states(authorized, mid) == {"bob@example.org": ("delivered", 250), "carol@example.org": ("delivered", 250)}
    [arrived] = smtp_server.received  # one transaction: each recipient got it exactly once
    assert arrived.data == raw
    assert arrived.rcpt_tos == ("bob@example.org", "carol@example.org")


async def test_relay_down_is_connection_refused_and_one_attempt(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    await smtp_server.go_down()
    ids = [enqueue("bob@example.org") for _ in range(5)]
    await worker.run_once()
    assert worker.pool is not None and worker.pool.connect_attempts == 1
    [tried] = [i for i in ids if authorized.get_message(i).summary.attempts]
    t0 = clock.now()
    assert_all_waiting(authorized, ids, tried, "Connection refused", t0 + 30)  # held for the relay's first pause
    assert authorized.get_message(tried).summary.next_attempt_at == t0 + 300  # the policy's first retry
    assert worker.backoff.until == t0 + 30 and worker.state.retry_at == t0 + 30
    assert all(authorized.get_message(i).report_ids == () for i in ids)
    assert f"cannot connect to 127.0.0.1:{smtp_server.port}" in worker.state.reason


async def test_a_backlog_waits_for_the_relay_in_bounded_batches_and_says_why(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock
) -> None:
    """Every message due before the relay's next try is deferred to it, in writes of HOLD_BATCH, with an event
    each; messages queued during the backoff are held too; none is counted as tried; all go once it is back."""
    from mailgui.delivery.hold import HOLD_BATCH
    from mailgui.message import MessageFields, build_message
    from mailgui.queue.bulk import enqueue_many

    def batch(n: int) -> None:
        fields = MessageFields(sender="ann@example.com", to="bob@example.org", subject="s", body="b")
        enqueue_many(authorized, [build_message(fields, now=clock.now()) for _ in range(n)])

    total = 2 * HOLD_BATCH + 7
    batch(total)
    smtp_server.greeting = "421 4.3.2 Service not available"
    events = worker.events()
    await worker.run_once()
    until = worker.backoff.until
    assert until == clock.now() + 30 and smtp_server.connection_attempts == 1
    held: list[object] = []
    while not events.empty():
        held.append(events.get_nowait())
    deferred = [e for e in held if getattr(e, "status", None) == Status.DEFERRED and e.next_attempt_at == until]
    assert len({e.message_id for e in deferred}) == total - 1  # all but the one tried (deferred by its own rule)
    assert all(e.error and "421 4.3.2" in e.error for e in deferred)
    assert authorized.counts_by_status() == {"deferred": total}
    assert authorized.hold_due(until, "x", None, 10) == []  # nothing left due before the relay's next try

    clock.advance(10)
    batch(3)  # queued meanwhile: held on the next pass too, with no connection attempt
    await worker.run_once()
    assert smtp_server.connection_attempts == 1
    assert authorized.counts_by_status() == {"deferred": total + 3}

    smtp_server.accept()
    clock.advance(20)
    await worker.run_once()
    assert authorized.counts_by_status() == {"sent": total + 2, "deferred": 1}  # the tried one waits 300 s


async def test_a_new_worker_sends_held_messages_at_once(
    authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue, target: RelayTarget
) -> None:
    """Held messages do not outlive the worker that held them: after a settings fix the GUI restarts the
    worker, and the fix takes effect now, not when the old relay backoff would have ended."""
    smtp_server.greeting = "421 4.3.2 Service not available"
    ids = [enqueue("bob@example.org") for _ in range(4)]
    old = make_worker(authorized, clock, target)
    await old.run_once()
    for _ in range(5):  # the backoff grows: 30, 60, 120, ... s
        clock.set(old.backoff.until)
        await old.run_once()
    await old.aclose()
    assert old.backoff.until - clock.now() == 960
    held = [i for i in ids if authorized.get_message(i).summary.attempts == 0]
    assert len(held) == 3 and all(authorized.get_message(i).summary.next_attempt_at > clock.now() for i in held)

    smtp_server.accept()
    new = make_worker(authorized, clock, target)
    try:
        await new.run_once()
    finally:
        await new.aclose()
    assert {authorized.get_message(i).summary.status for i in held} == {Status.SENT}


async def test_slow_server_times_out_and_counts_as_relay_failure(
    authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    target = RelayTarget("127.0.0.1", smtp_server.port, "none", timeout=0.3, connections=1)
    worker = make_worker(authorized, clock, target)
    smtp_server.delay = 5.0  # far longer than the 0.3 s the worker allows each step
    mid = enqueue("bob@example.org")
    try:
        await worker.run_once()
    finally:
        await worker.aclose()
    summary = authorized.get_message(mid).summary
    assert summary.status == Status.DEFERRED
    assert "did not answer within 0.3 s (at DATA)" in (summary.last_reply or "")
    assert summary.next_attempt_at == clock.now() + 300  # the first retry (no jitter in make_worker)
    assert states(authorized, mid) == {"bob@example.org": ("pending", None)}  # no reply came: no code
    assert worker.state.name == "unreachable"


async def test_relay_down_then_back_delivers_everything_with_growing_gaps(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    """The server answers 421 (so it can count each attempt) for about two hours, then takes mail."""
    smtp_server.greeting = "421 4.3.2 Service not available"
    ids = [enqueue("bob@example.org") for _ in range(30)]
    t0 = clock.now()
    attempt_times: list[float] = []
    while clock.now() - t0 < 7200:
        before = smtp_server.connection_attempts
        await worker.run_once()
        assert smtp_server.connection_attempts - before <= 1  # never a burst
        if smtp_server.connection_attempts > before:
            attempt_times.append(clock.now() - t0)
        clock.advance(10)  # the worker is asked often; the backoff decides
        ids.append(enqueue("bob@example.org"))  # mail keeps being queued meanwhile
    gaps = [b - a for a, b in itertools.pairwise(attempt_times)]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]  # growing
    assert gaps[:4] == [30, 60, 120, 240]  # doubling from 30 s (ticks of 10 s)
    assert len(attempt_times) <= 10  # over two hours: a handful of attempts, not one per message or tick

    smtp_server.accept()
    for _ in range(100):
        if all(authorized.get_message(i).summary.status == Status.SENT for i in ids):
            break
        await worker.run_once()
        clock.advance(60)
    assert all(authorized.get_message(i).summary.status == Status.SENT for i in ids)
    assert sorted(r.data for r in smtp_server.received) == sorted(authorized.get_message(i).raw for i in ids)
    assert worker.state.name == "running"


async def test_relay_port_closed_then_open_again_delivers_everything_with_growing_gaps(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    """The relay's port is really closed (connection refused) for about two hours, then listens again on the
    same port. The worker's own count of connection attempts shows the gaps."""
    await smtp_server.go_down()
    ids = [enqueue("bob@example.org") for _ in range(20)]
    t0 = clock.now()
    attempt_times: list[float] = []
    attempts = 0
    while clock.now() - t0 < 7200:
        await worker.run_once()
        assert worker.pool is not None
        new = worker.pool.connect_attempts - attempts
        assert new <= 1  # never a burst
        if new:
            attempt_times.append(clock.now() - t0)
        attempts = worker.pool.connect_attempts
        clock.advance(10)  # the worker is asked often; the backoff decides
        ids.append(enqueue("bob@example.org"))  # mail keeps being queued meanwhile
    assert smtp_server.connection_attempts == 0 and worker.state.name == "unreachable"
    assert "Connection refused" in worker.state.reason
    gaps = [b - a for a, b in itertools.pairwise(attempt_times)]
    assert gaps[:6] == [30, 60, 120, 240, 480, 960]  # doubling from 30 s (ticks of 10 s)
    assert gaps == sorted(gaps)  # growing, never shorter
    assert len(attempt_times) <= 10  # over two hours: a handful of attempts, not one per message or tick

    await smtp_server.come_back()  # the same port
    assert worker.pool is not None
    for _ in range(200):
        if all(authorized.get_message(i).summary.status == Status.SENT for i in ids):
            break
        before = worker.pool.connect_attempts
        await worker.run_once()
        assert worker.pool.connect_attempts - before <= 2  # the target's connections, no more
        clock.advance(60)
    assert all(authorized.get_message(i).summary.status == Status.SENT for i in ids)
    assert worker.state.name == "running"
    # each message exactly once, byte for byte
    assert sorted(r.data for r in smtp_server.received) == sorted(authorized.get_message(i).raw for i in ids)
    assert smtp_server.connection_attempts <= 2 * 3  # reused connections, not one per message


async def test_messages_expire_on_time_while_the_relay_is_backed_off(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, clock: FakeClock, enqueue: Enqueue
) -> None:
    from mailgui.settings import Settings

    Settings(authorized).set("retry.lifetime", "3600")
    await smtp_server.go_down()
    mid = enqueue("bob@example.org")
    while authorized.get_message(mid).summary.status != Status.BOUNCED:
        await worker.run_once()
        clock.advance(60)
        assert clock.now() < 1_800_000_000.0 + 3700
    assert states(authorized, mid) == {"bob@example.org": ("expired", None)}
    [report_id] = authorized.get_message(mid).report_ids
    report = authorized.get_message(report_id).summary  # waits for the relay like any mail
    assert (report.status, report.attempts, report.next_attempt_at) == (Status.DEFERRED, 0, worker.backoff.until)
    assert (report.last_reply or "").startswith("delivery temporarily suspended: cannot connect to")


# -- TLS and AUTH ---------------------------------------------------------------------------------------


async def _deliver_one(queue: Queue, clock: FakeClock, target: RelayTarget, enqueue: Enqueue) -> tuple[int, Worker]:
    worker = make_worker(queue, clock, target)
    mid = enqueue("bob@example.org")
    try:
        await worker.run_once()
    finally:
        await worker.aclose()
    return mid, worker


async def test_starttls_with_the_test_ca_delivers_over_tls(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, tls_files: TLSFiles
) -> None:
    async with SMTPTestServer(tls=tls_files, starttls=True, users={"ann": "s3cret"}) as server:
        target = RelayTarget(
            "127.0.0.1", server.port, "starttls", "ann", "s3cret", timeout=5, ca_file=str(tls_files.ca_file)
        )
        mid, _ = await _deliver_one(authorized, clock, target, enqueue)
        assert authorized.get_message(mid).summary.status == Status.SENT
        [conn] = server.connections
        assert conn.tls and conn.login == "ann"
        assert conn.commands[:3] == ["EHLO", "EHLO", "AUTH"]  # EHLO, STARTTLS, EHLO again, then AUTH
        assert server.received[0].data == authorized.get_message(mid).raw


async def test_implicit_tls_delivers(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, tls_files: TLSFiles
) -> None:
    async with SMTPTestServer(tls=tls_files, implicit_tls=True) as server:
        target = RelayTarget("127.0.0.1", server.port, "tls", timeout=5, ca_file=str(tls_files.ca_file))
        mid, _ = await _deliver_one(authorized, clock, target, enqueue)
        assert authorized.get_message(mid).summary.status == Status.SENT
        assert len(server.received) == 1


async def test_untrusted_certificate_is_a_tls_failure_never_plain_text(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, tls_files: TLSFiles
) -> None:
    async with SMTPTestServer(tls=tls_files, starttls=True) as server:
        target = RelayTarget("127.0.0.1", server.port, "starttls", timeout=5)  # no ca_file: the test CA is unknown
        t0 = clock.now()
        mid, worker = await _deliver_one(authorized, clock, target, enqueue)
        summary = authorized.get_message(mid).summary
        assert summary.status == Status.DEFERRED
        assert summary.next_attempt_at == t0 + 300  # the policy's first retry
        assert worker.backoff.until == t0 + 30 and worker.state.retry_at == t0 + 30  # the relay's first pause
        assert {r.status for r in summary.recipients} == {"pending"}
        assert authorized.get_message(mid).report_ids == ()
        assert "TLS with 127.0.0.1" in (summary.last_reply or "")
        assert "certificate verify failed" in (summary.last_reply or "")
        assert "relay.ca_file" in (summary.last_reply or "")
        assert worker.state.name == "unreachable"
        assert server.received == [] and "MAIL" not in server.commands()


async def test_an_unreadable_ca_file_fails_each_attempt_and_says_so(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("not a certificate")
    target = RelayTarget("127.0.0.1", smtp_server.port, "starttls", timeout=5, ca_file=str(bad))
    mid, worker = await _deliver_one(authorized, clock, target, enqueue)
    summary = authorized.get_message(mid).summary
    assert summary.status == Status.DEFERRED
    assert (summary.last_reply or "").startswith(f"relay.ca_file: cannot load {bad}")
    assert worker.state.name == "unreachable"
    assert smtp_server.connections == []


async def test_starttls_not_offered_is_refused(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    target = RelayTarget("127.0.0.1", smtp_server.port, "starttls", timeout=5)
    mid, _ = await _deliver_one(authorized, clock, target, enqueue)
    assert "does not offer STARTTLS" in (authorized.get_message(mid).summary.last_reply or "")
    assert smtp_server.received == []


async def test_refused_login_defers_and_says_to_fix_the_settings(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, tls_files: TLSFiles
) -> None:
    async with SMTPTestServer(tls=tls_files, starttls=True, users={"ann": "s3cret"}) as server:
        target = RelayTarget(
            "127.0.0.1", server.port, "starttls", "ann", "wrong", timeout=5, ca_file=str(tls_files.ca_file)
        )
        t0 = clock.now()
        first = enqueue("carol@example.org")
        second, worker = await _deliver_one(authorized, clock, target, enqueue)
        # One was tried; the other was held for the relay, with the same clear reason.
        mid, other = sorted((first, second), key=lambda i: -authorized.get_message(i).summary.attempts)
        held = authorized.get_message(other).summary
        assert (held.status, held.attempts, held.last_code) == (Status.DEFERRED, 0, 535)
        assert held.next_attempt_at == t0 + 30  # waits for the relay's next try
        assert "check relay.username and the password in Settings" in (held.last_reply or "")
        summary = authorized.get_message(mid).summary
        assert summary.attempts == 1
        assert summary.status == Status.DEFERRED
        assert summary.last_code == 535
        assert summary.next_attempt_at == t0 + 300  # the policy's first retry
        assert worker.backoff.until == t0 + 30 and worker.state.retry_at == t0 + 30  # the relay's first pause
        assert {r.status for r in summary.recipients} == {"pending"}
        assert authorized.get_message(mid).report_ids == ()
        assert summary.last_reply is not None
        assert "refused the login for 'ann': 535 5.7.8 Authentication credentials invalid" in summary.last_reply
        assert "check relay.username and the password in Settings" in summary.last_reply
        assert worker.state.name == "unreachable" and "refused the login" in worker.state.reason
        assert server.received == []


async def test_missing_password_is_named(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, tls_files: TLSFiles
) -> None:
    async with SMTPTestServer(tls=tls_files, starttls=True, users={"ann": "s3cret"}) as server:
        target = RelayTarget("127.0.0.1", server.port, "starttls", "ann", None, ca_file=str(tls_files.ca_file))
        mid, _ = await _deliver_one(authorized, clock, target, enqueue)
        assert "relay.password: no password is stored for 'ann'" in (
            authorized.get_message(mid).summary.last_reply or ""
        )


def test_relay_backoff_grows_and_one_spell_counts_once() -> None:
    backoff = RelayBackoff(first=30, longest=200, jitter=0.0, rng=random.Random(0))
    assert backoff.record_failure(0, "a") == 30
    assert backoff.record_failure(5, "b") == 30  # another send failing in the same spell
    assert backoff.record_failure(30, "c") == 90
    assert backoff.record_failure(90, "d") == 210
    assert backoff.record_failure(210, "e") == 410  # capped at 200 s
    assert (backoff.since, backoff.reason) == (0, "e")
    backoff.record_success()
    assert not backoff.unwell and backoff.record_failure(1000, "f") == 1030
