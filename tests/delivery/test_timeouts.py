"""A relay that stops answering at any step is timed out there: the message waits, the relay is backed off.

The issue asks for "timeouts on every step". The test server is told to leave one step unanswered (the
connection stays open and silent, as a hung relay does); the worker allows each step 0.2 s of real time. For
each step: every recipient stays pending, the attempt says which relay did not answer at which step and within
how long, the relay is backed off (one connection, no burst), the retry times are the policy's, and once the
relay answers again every message arrives exactly once, byte for byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import RelayTarget
from mailgui.delivery.transport import SILENT_GREETING_HINT
from mailgui.queue import Queue, Status
from tests.delivery.conftest import Enqueue
from tests.delivery.helpers import RELAY_PAUSE, make_worker
from tests.logfail import expect_relay_failures
from tests.smtpserver import SMTPTestServer, TLSFiles

# A relay that does not answer in time is a relay failure, and the worker says so at WARNING.
pytestmark = expect_relay_failures

TIMEOUT = 0.2  # seconds the worker allows each step: real time, so small
# For steps that must NOT time out: a wider margin, so a busy test machine cannot make them fail.
SLOW_TIMEOUT = 0.5
SLOW_STEP = 0.2
FIRST_RETRY = 300.0  # RetryPolicy's first delay (no jitter)
RECIPIENTS = ["bob@example.org", "carol@example.org"]


@dataclass(frozen=True)
class Relay:
    """How the test server and the worker's relay settings are set up around the stalled step."""

    security: str = "none"  # the worker's relay.security
    server_tls: str = ""  # "", "starttls" or "implicit"
    login: bool = False  # the server asks for AUTH (plain text, on loopback) and the worker logs in


PLAIN = Relay()


@dataclass(frozen=True)
class Stall:
    step: str  # the server's stall (tests/smtpserver.py)
    relay: Relay
    where: str  # how the attempt names the step
    tried_first: int = 0  # messages sent before the stalled step is reached (RSET: one, then the next stalls)


STALLS = [
    pytest.param(Stall("greeting", PLAIN, f"(at the greeting){SILENT_GREETING_HINT}"), id="greeting"),
    pytest.param(Stall("greeting", Relay("tls", "implicit"), "(at the greeting)"), id="greeting-after-implicit-tls"),
    pytest.param(Stall("EHLO", PLAIN, "(at EHLO)"), id="ehlo"),
    pytest.param(Stall("EHLO", Relay("starttls", "starttls"), "(at EHLO)"), id="ehlo-before-starttls"),
    pytest.param(Stall("STARTTLS", Relay("starttls", "starttls"), "(at STARTTLS)"), id="starttls"),
    # 220 to STARTTLS, then the client's TLS handshake is never answered
    pytest.param(Stall("TLS", Relay("starttls", "starttls"), "(at STARTTLS)"), id="tls-handshake"),
    pytest.param(Stall("AUTH", Relay(login=True), "(at AUTH)"), id="auth"),
    pytest.param(Stall("MAIL", PLAIN, "(at MAIL FROM)"), id="mail-from"),
    pytest.param(Stall("RCPT", PLAIN, "(at RCPT TO)"), id="rcpt-to"),
    # a reused connection: the first message goes, the RSET before the second is never answered
    pytest.param(Stall("RSET", PLAIN, "(at RSET)", tried_first=1), id="rset-on-reused-connection"),
]


StartRelay = Callable[[Relay], Awaitable[tuple[SMTPTestServer, RelayTarget]]]


@pytest.fixture
async def relay_for(tls_files: TLSFiles) -> AsyncIterator[StartRelay]:
    """relay_for(Relay(...)) -> a started test server and the worker's relay settings for it (0.2 s steps)."""
    servers: list[SMTPTestServer] = []

    async def start(relay: Relay) -> tuple[SMTPTestServer, RelayTarget]:
        server = SMTPTestServer(
            tls=tls_files if relay.server_tls else None,
            starttls=relay.server_tls == "starttls",
            implicit_tls=relay.server_tls == "implicit",
            users={"ann": "s3cret"} if relay.login else None,
            auth_require_tls=False,
        )
        servers.append(server)
        await server.start()
        target = RelayTarget(
            "127.0.0.1",
            server.port,
            relay.security,
            "ann" if relay.login else "",
            "s3cret" if relay.login else None,
            timeout=TIMEOUT,
            ca_file=str(tls_files.ca_file) if relay.server_tls else "",
            connections=1,
            helo_name="client.test",
        )
        return server, target

    yield start
    for server in servers:
        await server.stop()


@pytest.mark.parametrize("stall", STALLS)
async def test_a_relay_that_stops_answering_is_timed_out_at_that_step(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, relay_for: StartRelay, stall: Stall
) -> None:
    server, target = await relay_for(stall.relay)
    server.stall = stall.step
    t0 = clock.now()
    ids = [enqueue(RECIPIENTS, subject=f"Message {n}") for n in range(3)]
    worker = make_worker(authorized, clock, target)
    try:
        await worker.run_once()

        # One connection, left at the stalled step; nothing after it was sent.
        assert server.stalled == [stall.step]
        assert server.connection_attempts == 1
        assert len(server.received) == stall.tried_first
        assert server.connections[0].commands.count("DATA") == stall.tried_first
        reason = f"{target.name} did not answer within {TIMEOUT:g} s {stall.where}"

        # The message that met the stall: deferred, every recipient pending, the reason on record.
        tried = [i for i in ids if authorized.get_message(i).summary.attempts == 1]
        sent_first = [i for i in tried if authorized.get_message(i).summary.status == Status.SENT]
        [stalled] = [i for i in tried if i not in sent_first]
        assert len(sent_first) == stall.tried_first
        detail = authorized.get_message(stalled)
        summary = detail.summary
        assert summary.status == Status.DEFERRED
        assert summary.last_reply == reason
        assert summary.next_attempt_at == t0 + FIRST_RETRY
        assert [(r.address, r.status) for r in summary.recipients] == [(a, "pending") for a in RECIPIENTS]
        [attempt] = detail.attempts
        assert (attempt.relay, attempt.error) == (target.name, reason)
        assert {(r.status, r.reply) for r in attempt.results} == {("pending", reason)}

        # The relay is backed off for its first pause; the messages not yet tried wait for it, saying why.
        assert worker.backoff.unwell and worker.backoff.until == t0 + RELAY_PAUSE
        assert worker.state.name == "unreachable" and worker.state.reason == reason
        for other in set(ids) - set(tried):
            s = authorized.get_message(other).summary
            assert (s.status, s.attempts, s.next_attempt_at) == (Status.DEFERRED, 0, t0 + RELAY_PAUSE)
            assert s.last_reply == f"delivery temporarily suspended: {reason}"

        # Nothing is tried again before its time.
        clock.set(t0 + RELAY_PAUSE - 1)
        await worker.run_once()
        assert server.connection_attempts == 1

        # The relay answers again: the held messages go at the end of the pause, the stalled one at its retry.
        server.accept()
        clock.set(t0 + RELAY_PAUSE)
        await worker.run_once()
        assert worker.state.name == "running" and not worker.backoff.unwell
        assert authorized.get_message(stalled).summary.status == Status.DEFERRED
        clock.set(t0 + FIRST_RETRY)
        await worker.run_once()
    finally:
        await worker.aclose()

    assert [authorized.get_message(i).summary.status for i in ids] == [Status.SENT] * 3
    assert authorized.get_message(stalled).summary.attempts == 2
    # Each message arrived once, whole, to both recipients.
    assert sorted(r.data for r in server.received) == sorted(authorized.get_message(i).raw for i in ids)
    assert all(r.rcpt_tos == tuple(RECIPIENTS) for r in server.received)
    later = server.connections[1:]  # the relay, answering again, was used as configured
    if stall.relay.server_tls == "starttls":  # (implicit TLS: the server takes nothing else)
        assert all(c.tls for c in later if c.messages)
    assert all(c.login == ("ann" if stall.relay.login else None) for c in later)


async def test_a_relay_that_never_answers_the_tls_handshake_is_timed_out_connecting(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, smtp_server: SMTPTestServer, tls_files: TLSFiles
) -> None:
    """relay.security = tls to a port that takes the connection and says nothing (the ClientHello unanswered)."""
    smtp_server.stall = "greeting"  # a plain server: it only ever waits for the client's first line
    target = RelayTarget("127.0.0.1", smtp_server.port, "tls", timeout=TIMEOUT, ca_file=str(tls_files.ca_file))
    worker = make_worker(authorized, clock, target)
    mid = enqueue(RECIPIENTS)
    try:
        await worker.run_once()
    finally:
        await worker.aclose()
    summary = authorized.get_message(mid).summary
    reason = f"{target.name} did not answer within {TIMEOUT:g} s (connecting)"
    assert (summary.status, summary.last_reply) == (Status.DEFERRED, reason)
    assert {r.status for r in summary.recipients} == {"pending"}
    assert worker.state.name == "unreachable" and worker.backoff.until == clock.now() + RELAY_PAUSE
    assert smtp_server.connection_attempts == 1 and smtp_server.received == []


async def test_each_rcpt_has_the_whole_timeout(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, smtp_server: SMTPTestServer
) -> None:
    """A relay that takes a while over each recipient (recipient checks, tarpitting) is not timed out when
    the recipients together take longer than one step's timeout: RFC 5321 4.5.3.2 times each RCPT."""
    recipients = [f"user{n}@example.org" for n in range(4)]
    smtp_server.stall, smtp_server.stall_for = "RCPT", SLOW_STEP  # 4 x 0.2 s: more than one 0.5 s timeout
    target = RelayTarget("127.0.0.1", smtp_server.port, "none", timeout=SLOW_TIMEOUT, connections=1)
    worker = make_worker(authorized, clock, target)
    mid = enqueue(recipients)
    try:
        await worker.run_once()
    finally:
        await worker.aclose()
    assert authorized.get_message(mid).summary.status == Status.SENT
    assert smtp_server.stalled == ["RCPT"] * 4
    assert [r.rcpt_tos for r in smtp_server.received] == [tuple(recipients)]
    assert worker.state.name == "running"


async def test_a_slow_step_within_the_timeout_is_waited_for(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, smtp_server: SMTPTestServer
) -> None:
    """The timeouts above are not simply "anything slow fails": each step may take a good part of its timeout."""
    target = RelayTarget("127.0.0.1", smtp_server.port, "none", timeout=SLOW_TIMEOUT, connections=1)
    worker = make_worker(authorized, clock, target)
    ids = []
    try:
        for step in ("greeting", "EHLO", "MAIL"):
            smtp_server.stall, smtp_server.stall_for = step, SLOW_STEP
            ids.append(enqueue(RECIPIENTS))
            await worker.run_once()
    finally:
        await worker.aclose()
    assert smtp_server.stalled == ["greeting", "EHLO", "MAIL"]
    assert [authorized.get_message(i).summary.status for i in ids] == [Status.SENT] * 3
    assert worker.state.name == "running"


async def test_a_large_message_gets_time_to_upload_before_its_final_reply(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, smtp_server: SMTPTestServer
) -> None:
    """The DATA step gets relay.timeout plus the upload at a slow uplink's rate: a large message whose final
    reply is slower than relay.timeout alone is delivered, while a small one is still timed out."""
    target = RelayTarget("127.0.0.1", smtp_server.port, "none", timeout=TIMEOUT, connections=1)
    worker = make_worker(authorized, clock, target)
    smtp_server.delay = 3 * TIMEOUT  # the end of DATA is answered after 0.6 s
    large = enqueue(body="x" * 70 + "\n" * 1 + ("y" * 76 + "\n") * 1000)  # about 78 KB: 2.4 s more allowed
    try:
        await worker.run_once()
        assert authorized.get_message(large).summary.status == Status.SENT
        small = enqueue()
        await worker.run_once()
    finally:
        await worker.aclose()
    summary = authorized.get_message(small).summary
    assert summary.status == Status.DEFERRED
    assert f"did not answer within {TIMEOUT:g} s (at DATA)" in (summary.last_reply or "")
