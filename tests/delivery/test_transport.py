"""Connections to the relay: reused across messages with RSET between them, reopened when closed;
and Settings' Test connection."""

from __future__ import annotations

import asyncio

from mailgui.clock import FakeClock
from mailgui.delivery import RelayTarget, Worker, test_connection
from mailgui.delivery.transport import READ_SIZE, SmtpConnection
from mailgui.queue import Queue, Status
from tests.delivery.conftest import Enqueue
from tests.smtpserver import SMTPTestServer, TLSFiles


def one_connection(server: SMTPTestServer, **kw: object) -> RelayTarget:
    return RelayTarget("127.0.0.1", server.port, "none", timeout=5, connections=1, **kw)  # type: ignore[arg-type]


async def test_a_backlog_goes_over_a_few_reused_connections(
    worker: Worker, authorized: Queue, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    for n in range(40):
        enqueue(f"user{n}@example.org")
    await worker.run_once()
    assert authorized.counts_by_status() == {"sent": 40}
    assert len(smtp_server.connections) == 2  # worker.connections = 2 in the fixture's target
    assert sum(c.messages for c in smtp_server.connections) == 40
    assert all(c.messages > 1 for c in smtp_server.connections)
    assert [c.commands.count("EHLO") for c in smtp_server.connections] == [1, 1]


async def test_rset_follows_a_refused_transaction_on_the_same_connection(
    authorized: Queue, clock: FakeClock, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    smtp_server.refuse("gone@example.org", "550 5.1.1 <gone@example.org>: User unknown")
    first = enqueue("gone@example.org")
    second = enqueue("bob@example.org")
    worker = Worker(authorized, clock=clock, relay=one_connection(smtp_server), owner="w")
    await worker.run_once()
    [conn] = smtp_server.connections
    # message 1: MAIL, RCPT refused; RSET; message 2 ...; then the report to the sender, on the same connection
    assert conn.commands[:6] == ["EHLO", "MAIL", "RCPT", "RSET", "MAIL", "RCPT"]
    assert authorized.get_message(first).summary.status == Status.BOUNCED
    assert authorized.get_message(second).summary.status == Status.SENT


async def test_rset_comes_between_messages_on_a_reused_connection(
    authorized: Queue, clock: FakeClock, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    for n in range(3):
        enqueue(f"user{n}@example.org")
    worker = Worker(authorized, clock=clock, relay=one_connection(smtp_server), owner="w")
    await worker.run_once()
    [conn] = smtp_server.connections
    one = ["MAIL", "RCPT", "DATA"]
    assert conn.commands == ["EHLO", *one, "RSET", *one, "RSET", *one, "QUIT"]
    assert authorized.counts_by_status() == {"sent": 3}


async def test_a_connection_the_server_closes_is_reopened_without_failing_anything(
    authorized: Queue, clock: FakeClock, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    smtp_server.close_after = 3  # the server hangs up after every third message
    ids = [enqueue(f"user{n}@example.org") for n in range(10)]
    worker = Worker(authorized, clock=clock, relay=one_connection(smtp_server), owner="w")
    await worker.run_once()
    assert {authorized.get_message(i).summary.status for i in ids} == {Status.SENT}
    assert {authorized.get_message(i).summary.attempts for i in ids} == {1}
    assert [c.messages for c in smtp_server.connections] == [3, 3, 3, 1]
    assert worker.state.name == "running"


async def test_an_idle_connection_dropped_by_the_server_is_replaced(
    authorized: Queue, clock: FakeClock, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    worker = Worker(authorized, clock=clock, relay=one_connection(smtp_server), owner="w", idle_close=3600)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    enqueue("a@example.org")
    worker.wake()
    await smtp_server.wait_received(1)
    await smtp_server.drop_connections()  # the server times the idle client out
    enqueue("b@example.org")
    worker.wake()
    await smtp_server.wait_received(2)
    stop.set()
    await task
    assert authorized.counts_by_status() == {"sent": 2}
    assert len(smtp_server.connections) == 2
    assert worker.state.name == "stopped" and not worker.backoff.unwell


# -- Test connection --------------------------------------------------------------------------------------
async def test_connection_check_connects_secures_logs_in_and_sends_nothing(tls_files: TLSFiles) -> None:
    async with SMTPTestServer(tls=tls_files, starttls=True, users={"ann": "s3cret"}) as server:
        target = RelayTarget(
            "127.0.0.1", server.port, "starttls", "ann", "s3cret", timeout=5, ca_file=str(tls_files.ca_file)
        )
        result = await test_connection(target)
        assert result.ok, result.message
        assert result.message.startswith(
            f"OK: connected to 127.0.0.1:{server.port}, STARTTLS verified, logged in as ann"
        )
        assert result.message.endswith("no mail was sent")
        [conn] = server.connections
        assert conn.tls and conn.login == "ann"
        assert "MAIL" not in conn.commands and conn.commands[-1] == "QUIT"

        refused = await test_connection(
            {
                "relay.host": "127.0.0.1",
                "relay.port": str(server.port),
                "relay.security": "starttls",
                "relay.username": "ann",
                "relay.ca_file": str(tls_files.ca_file),
            },
            password="wrong",
        )
        assert not refused.ok and refused.fault == "auth"
        assert "refused the login for 'ann': 535 5.7.8 Authentication credentials invalid" in refused.message

        untrusted = await test_connection(RelayTarget("127.0.0.1", server.port, "starttls", timeout=5))
        assert not untrusted.ok and untrusted.fault == "tls"
        assert "certificate verify failed" in untrusted.message


async def test_connection_check_reports_refused_and_bad_settings(smtp_server: SMTPTestServer) -> None:
    port = smtp_server.port
    await smtp_server.go_down()
    down = await test_connection(RelayTarget("127.0.0.1", port, "none", timeout=5))
    assert not down.ok and down.fault == "refused"
    assert down.message == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert str(down) == down.message and not down

    bad = await test_connection({"relay.host": "127.0.0.1", "relay.port": "70000"})
    assert not bad.ok and bad.fault == "settings"
    assert bad.message.startswith("relay.port: '70000' is not valid")
    empty = await test_connection({"relay.host": ""})
    assert empty.message == "relay.host: no relay host is set"


async def test_several_messages_are_in_flight_at_once_on_different_connections(
    authorized: Queue, clock: FakeClock, smtp_server: SMTPTestServer, enqueue: Enqueue
) -> None:
    """worker.connections = 2: two transactions wait for their final reply at the same moment, one on each
    connection (a pool that sent one transaction at a time would never have two held)."""
    target = RelayTarget("127.0.0.1", smtp_server.port, "none", timeout=5, connections=2)
    worker = Worker(authorized, clock=clock, relay=target, owner="w", idle_close=3600)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        enqueue("first@example.org")  # slow start: one transaction proves the relay well first
        worker.wake()
        await asyncio.wait_for(smtp_server.wait_received(1), 10)
        smtp_server.hold()  # from now on every final reply waits: each send stays in flight
        ids = [enqueue(f"user{n}@example.org") for n in range(4)]
        worker.wake()
        await asyncio.wait_for(smtp_server.wait_holding(2), 10)
        in_data = [c.number for c in smtp_server.connections if c.commands[-1:] == ["DATA"]]
        assert len(in_data) == 2  # the two held transactions are on two different connections
        assert smtp_server.holding == 2  # and no more than the pool's two connections
        smtp_server.release()
        await asyncio.wait_for(smtp_server.wait_received(5), 10)
    finally:
        smtp_server.release()
        stop.set()
        await asyncio.wait_for(task, 10)
    assert authorized.counts_by_status() == {"sent": 5}
    assert sorted(r.data for r in smtp_server.received[1:]) == sorted(authorized.get_message(i).raw for i in ids)
    assert len(smtp_server.connections) == 2


async def test_reads_are_small_and_a_reply_longer_than_one_read_comes_whole(smtp_server: SMTPTestServer) -> None:
    # A plain session asks for READ_SIZE bytes a read (asyncio's 256 KiB cost three memory syscalls a reply);
    # a reply of 40 KiB then takes several reads, and must still be read whole.
    lines = [f"550-5.1.1 line {n:03} " + "x" * 380 for n in range(100)]
    smtp_server.refuse("long@example.org", "\r\n".join([*lines, "550 5.1.1 the end"]))
    conn = SmtpConnection(one_connection(smtp_server))
    await conn.open()
    try:
        assert getattr(conn.wire and conn.wire.transport, "max_size", None) == READ_SIZE
        [reply] = await conn.deliver("ann@example.com", ["long@example.org"], b"Subject: s\r\n\r\nbody\r\n", False)
        assert reply.code == 550
        assert reply.text.count("x" * 380) == 100 and reply.text.endswith("the end")
        assert len(reply.text) > 2 * READ_SIZE
        [ok] = await conn.deliver("ann@example.com", ["bob@example.org"], b"Subject: s\r\n\r\nbody\r\n", False)
        assert ok.code == 250  # the session goes on after it
    finally:
        await conn.close()
