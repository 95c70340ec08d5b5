"""Against a relay that breaks the SMTP dialogue, `sent` still means delivered (issues 14 and 20).

Each test scripts one misbehaviour of the hostile relay (tests/hostile_relay.py) and drives the real worker through
it, black-box: what the queue says afterwards is checked against what the relay really took (truly_delivered).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailgui.attachments import Attachment
from mailgui.clock import FakeClock
from mailgui.delivery import RelayTarget
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue, Status
from tests.delivery.conftest import Enqueue
from tests.delivery.helpers import make_worker, states
from tests.delivery.hostile import assert_sent_means_delivered, hostile_target, run_once
from tests.hostile_relay import (
    CLOSE,
    DEFAULT,
    GAP,
    Extra,
    Flood,
    HostileRelay,
    Reply,
    reply,
    truly_delivered,
)
from tests.logfail import expect_relay_failures
from tests.smtpserver import make_tls

pytestmark = expect_relay_failures  # every relay here fails, and the worker says so

# How the attempt log may say that the relay broke the dialogue (any of these words will do).
VIOLATION = re.compile(r"protocol|violat|unexpected|broke the SMTP dialogue|out of order|unasked|unsolicited", re.I)


@pytest.fixture
async def relay() -> AsyncIterator[HostileRelay]:
    async with HostileRelay() as r:
        yield r


def last_reply(queue: Queue, mid: int) -> str:
    return queue.get_message(mid).summary.last_reply or ""


def assert_deferred_by_violation(queue: Queue, mid: int, *also: str) -> None:
    """Nothing sent, nothing bounced: every recipient waits, one attempt says the relay broke the dialogue."""
    detail = queue.get_message(mid)
    assert (detail.summary.status, detail.summary.attempts) == (Status.DEFERRED, 1), detail.summary
    assert {r.status for r in detail.summary.recipients} == {"pending"}
    said = detail.summary.last_reply or ""
    assert VIOLATION.search(said), f"the attempt log does not say the relay broke the dialogue: {said!r}"
    for word in also:
        assert word in said, f"{word!r} not in {said!r}"
    assert detail.report_ids == ()  # a relay's fault is nobody's bounce


async def test_data_answered_with_250_instead_of_354_sends_nothing_and_is_a_protocol_violation(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, relay: HostileRelay
) -> None:
    relay.script.on("DATA", *reply("250 2.0.0 Ok"))
    mid = enqueue("bob@example.org")
    worker = make_worker(authorized, clock, hostile_target(relay))

    await run_once(worker, relay)

    assert truly_delivered(relay) == set()
    assert_deferred_by_violation(authorized, mid, "DATA", "250")
    assert worker.state.name == "unreachable"  # a temporary failure of the relay, backed off
    assert_sent_means_delivered(authorized, relay)


async def test_an_unsolicited_line_after_the_greeting_drops_the_connection_and_sends_nothing(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, relay: HostileRelay
) -> None:
    """One '250 ok' nobody asked for would shift every later reply by one: RCPT's 250 would answer DATA."""
    relay.script.on("GREETING", DEFAULT, Extra(b"250 ok\r\n"))
    ids = [enqueue(f"user{n}@example.org") for n in range(3)]
    worker = make_worker(authorized, clock, hostile_target(relay))

    await run_once(worker, relay)

    assert truly_delivered(relay) == set()
    assert {authorized.get_message(i).summary.status for i in ids} == {Status.DEFERRED}
    assert len(relay.connections) == 1  # dropped, and the relay backed off: no second connection
    tried = [i for i in ids if authorized.get_message(i).summary.attempts]
    assert len(tried) == 1
    assert_deferred_by_violation(authorized, tried[0])
    assert_sent_means_delivered(authorized, relay)


@pytest.mark.parametrize("write", ["same-write", "next-write", "partial-line"])
async def test_replies_injected_in_plain_text_with_the_220_to_starttls_are_never_read_as_replies(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, tmp_path: Path, write: str
) -> None:
    """CVE-2011-0411: faked replies for EHLO, MAIL, RCPT, DATA and the end of data follow the 220 in plain text,
    in the same write or the next. After TLS the relay refuses everything: only the fakes could make it look sent.
    (next-write: whether the fakes come before the client starts the handshake or into it is the loop's choice;
    either way they must not count. partial-line: a line begun in plain text, "250 mx " with no end, would make the
    first reply over TLS read "250 mx 554 5.7.0 ...": a 250 to EHLO.)"""
    tls = make_tls(tmp_path)
    fakes = b"250 mx\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n250 2.0.0 Ok: queued\r\n"
    if write == "partial-line":
        fakes = b"250 mx "
    gap = (GAP,) if write == "next-write" else ()
    async with HostileRelay(tls=tls) as relay:
        relay.script.on("STARTTLS", Reply(b"220 2.0.0 Ready to start TLS\r\n"), *gap, Extra(fakes))
        relay.script.on("EHLO", *reply("554 5.7.0 not after TLS"), when=lambda s: s.tls)
        for verb in ("MAIL", "RCPT", "DATA", "RSET", "NOOP"):
            relay.script.on(verb, *reply("554 5.7.0 not after TLS"), when=lambda s: s.tls)
        mid = enqueue("bob@example.org")
        worker = make_worker(authorized, clock, hostile_target(relay, ca_file=str(tls.ca_file), security="starttls"))

        await run_once(worker, relay)

    assert truly_delivered(relay) == set()
    detail = authorized.get_message(mid)
    assert (detail.summary.status, detail.summary.attempts) == (Status.DEFERRED, 1)
    assert states(authorized, mid) == {"bob@example.org": ("pending", None)}
    [conn] = relay.connections
    assert conn.verbs()[:2] == ["EHLO", "STARTTLS"]
    assert "MAIL" not in conn.verbs()  # the connection was dropped before any of the message went
    assert "STARTTLS" in last_reply(authorized, mid) or "TLS" in last_reply(authorized, mid)
    assert worker.state.name == "unreachable"
    assert_sent_means_delivered(authorized, relay)


LATIN1_550 = b"550 5.1.1 Benutzer unbekannt: M\xfcller\r\n"


async def test_a_550_whose_text_is_not_utf8_bounces_the_recipient_and_everything_is_recorded(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, relay: HostileRelay
) -> None:
    relay.script.on("RCPT", Reply(LATIN1_550), when=lambda s: s.arg.startswith(b"<mueller@"))
    mueller = enqueue(["bob@example.org", "mueller@example.org"])
    others = [enqueue(f"user{n}@example.org") for n in range(8)]
    worker = make_worker(authorized, clock, hostile_target(relay, connections=2))

    await run_once(worker, relay)

    summary = authorized.get_message(mueller).summary
    assert summary.status == Status.BOUNCED
    failed = {r.address: r for r in summary.recipients}["mueller@example.org"]
    assert (failed.status, failed.code) == ("failed", 550)
    shown = failed.reply or ""
    assert re.search(r"Benutzer unbekannt: M(\ufffd|\\xfc|ü)ller", shown), shown  # stored, readable, marked
    shown.encode("utf-8")  # no lone surrogate: it can be shown and written anywhere
    assert {authorized.get_message(i).summary.status for i in others} == {Status.SENT}
    # The report to the sender went out too, and carries the reply safely.
    [report_id] = authorized.get_message(mueller).report_ids
    report = authorized.get_message(report_id)
    assert report.summary.status == Status.SENT
    assert b"Benutzer unbekannt" in report.raw
    report.raw.decode("utf-8")
    # The worker keeps working: a message queued now goes out on the next pass.
    later = enqueue("carol@example.org")
    await run_once(worker, relay)
    assert authorized.get_message(later).summary.status == Status.SENT
    assert_sent_means_delivered(authorized, relay)


@pytest.mark.parametrize("step", ["GREETING", "EHLO", "RCPT"])
@pytest.mark.parametrize(
    "endless",
    [
        (Flood(b"250-" + b"x" * 1020 + b"\r\n", 32 << 20),),
        (Reply(b"250 "), Flood(b"x" * 4096, 32 << 20)),
    ],
    ids=["lines-forever", "one-line-forever"],
)
async def test_a_reply_that_never_ends_is_a_violation_once_it_passes_the_cap(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, relay: HostileRelay, step: str, endless: tuple[object, ...]
) -> None:
    """Measured in bytes the relay managed to write before the client hung up, not in seconds: a client that
    reads on until its timeout would take megabytes."""
    relay.script.on(step, *endless)  # type: ignore[arg-type]
    mid = enqueue("bob@example.org")
    worker = make_worker(authorized, clock, hostile_target(relay, timeout=5.0))

    await run_once(worker, relay)

    # A cap of 64 KiB (Postfix's order of size) lets ~70 KiB through here; a client that reads on until its
    # timeout takes megabytes (4 MB of lines, 32 MB of one line in 5 s before this change).
    assert relay.sent < 256 << 10, f"the client took {relay.sent} bytes of one reply before it hung up"
    assert_deferred_by_violation(authorized, mid)
    assert_sent_means_delivered(authorized, relay)


def too_many_after(n: int):  # type: ignore[no-untyped-def]
    return lambda s: s.rcpt > n


@pytest.mark.parametrize("pipelining", [False, True], ids=["lockstep", "pipelining"])
async def test_452_too_many_recipients_sends_the_rest_at_once_in_the_same_attempt(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, pipelining: bool
) -> None:
    recipients = [f"user{n}@example.org" for n in range(10)]
    async with HostileRelay(pipelining=pipelining) as relay:
        relay.script.on("RCPT", *reply("452 4.5.3 Too many recipients"), when=too_many_after(3))
        mid = enqueue(recipients)
        worker = make_worker(authorized, clock, hostile_target(relay))

        assert await run_once(worker, relay) == 1

        summary = authorized.get_message(mid).summary
        assert (summary.status, summary.attempts) == (Status.SENT, 1)
        assert {a for a, (st, _) in states(authorized, mid).items() if st == "delivered"} == set(recipients)
        assert truly_delivered(relay) == {(summary.message_id, a) for a in recipients}
        assert all(len(t.accepted) <= 3 for t in relay.transactions)

        # The relay's limit is remembered: the next message is cut to 3 a transaction before it says 452.
        second = enqueue(recipients)
        refused_before = sum(len(t.refused) for t in relay.transactions)
        await run_once(worker, relay)
        assert authorized.get_message(second).summary.status == Status.SENT
        assert sum(len(t.refused) for t in relay.transactions) == refused_before
    assert_sent_means_delivered(authorized, relay)


@pytest.mark.parametrize("pipelining", [False, True], ids=["lockstep", "pipelining"])
@pytest.mark.parametrize("then", ["closes-after-each", "drops-the-second"])
async def test_after_a_452_split_a_failing_session_never_loses_or_repeats_what_was_delivered(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, pipelining: bool, then: str
) -> None:
    """The relay takes 2 recipients a transaction. closes-after-each: it hangs up after each delivered transaction,
    so the RSET before the next finds the session closed (the rest go at once on another session, in the same
    attempt). drops-the-second: it drops the session in the second transaction (a relay failure: the rest wait).
    Either way the first transaction's recipients are delivered once, recorded as such, and never sent again
    (found by the audit: they were sent three times an attempt and left pending)."""
    recipients = [f"u{n}@example.org" for n in range(4)]
    async with HostileRelay(pipelining=pipelining) as relay:
        relay.script.on("RCPT", *reply("452 4.5.3 Too many recipients"), when=lambda s: s.rcpt > 2)
        if then == "closes-after-each":
            relay.script.on("EOD", DEFAULT, CLOSE)
        else:
            relay.script.on("MAIL", CLOSE, when=lambda s: s.nth == 2)
        mid = enqueue(recipients)
        worker = make_worker(authorized, clock, hostile_target(relay))
        await run_once(worker, relay)

        summary = authorized.get_message(mid).summary
        delivered_once = [t.accepted for t in relay.transactions if t.delivered]
        if then == "closes-after-each":
            assert summary.status == Status.SENT and summary.attempts == 1
            assert sorted(a for batch in delivered_once for a in batch) == recipients
        else:
            assert delivered_once == [["u0@example.org", "u1@example.org"]]
            assert states(authorized, mid) == {
                "u0@example.org": ("delivered", 250),
                "u1@example.org": ("delivered", 250),
                "u2@example.org": ("pending", None),
                "u3@example.org": ("pending", None),
            }
            clock.advance(4000)  # the retry and the relay's backoff are due
            await run_once(worker, relay)
            delivered_once = [t.accepted for t in relay.transactions if t.delivered]
            assert sorted(a for batch in delivered_once for a in batch) == recipients  # each once, in all
            assert authorized.get_message(mid).summary.status == Status.SENT
        await worker.aclose()
    assert_sent_means_delivered(authorized, relay)


async def test_a_final_reply_that_comes_before_the_data_was_all_sent_is_a_violation(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue
) -> None:
    """The relay reads a little of a large message, says 250, and stops reading: the final dot is still in the
    client's buffer, so the 250 cannot be about the message (found by the audit: it was marked sent)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())
        try:
            writer.write(b"220 early ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    writer.write(b"250-early\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go\r\n")
                    await reader.read(4096)  # a little of the data ...
                    writer.write(b"250 2.0.0 Ok: queued (not really)\r\n")  # ... and "delivered" before the dot
                    await stop.wait()  # never reads on
                    return
                else:
                    writer.write(b"250 ok\r\n")
        finally:
            writer.transport.abort()

    handlers: list[asyncio.Task[None] | None] = []

    stop = asyncio.Event()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    fields = MessageFields(
        sender="ann@example.com",
        to="bob@example.org",
        subject="big",
        body="hi",
        attachments=[Attachment("big.bin", b"\x00" * 8_000_000)],
    )
    mid = authorized.enqueue(build_message(fields, now=clock.now()))
    target = RelayTarget("127.0.0.1", port, "none", timeout=10.0, connections=1, helo_name="client.test")
    worker = make_worker(authorized, clock, target)
    try:
        await asyncio.wait_for(worker.run_once(), 60)
    finally:
        stop.set()
        await worker.aclose()
        server.close()
        await asyncio.gather(*(t for t in handlers if t is not None), return_exceptions=True)
        await server.wait_closed()
    assert_deferred_by_violation(authorized, mid, "before it was all sent")


async def test_452_to_the_first_recipient_of_a_transaction_stays_a_temporary_failure(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, relay: HostileRelay
) -> None:
    relay.script.on("RCPT", *reply("452 4.5.3 Too many recipients"), when=lambda s: s.rcpt == 1)
    mid = enqueue(["bob@example.org", "carol@example.org"])
    worker = make_worker(authorized, clock, hostile_target(relay))

    await run_once(worker, relay)

    summary = authorized.get_message(mid).summary
    assert (summary.status, summary.attempts, summary.next_attempt_at) == (Status.DEFERRED, 1, clock.now() + 300)
    assert states(authorized, mid) == {"bob@example.org": ("pending", 452), "carol@example.org": ("delivered", 250)}
    assert_sent_means_delivered(authorized, relay)


@pytest.mark.parametrize("mail", ["answered-too", "unanswered"])
async def test_a_reply_that_comes_before_its_command_is_a_violation(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, relay: HostileRelay, mail: str
) -> None:
    """On a reused connection the relay answers RSET and, in the same write, the MAIL not yet sent. Answered-too:
    every later reply is shifted by one. Unanswered: the early 250 stands in for MAIL's own."""
    relay.script.on("RSET", Reply(b"250 2.0.0 Ok\r\n"), Extra(b"250 2.1.0 Ok\r\n"), times=1)
    if mail == "unanswered":
        relay.script.on("MAIL", when=lambda s: s.nth == 2)  # no reply op: MAIL goes unanswered
    first, second = enqueue("bob@example.org"), enqueue("carol@example.org")
    worker = make_worker(authorized, clock, hostile_target(relay, timeout=2.0))

    await run_once(worker, relay)

    assert authorized.get_message(first).summary.status == Status.SENT
    assert truly_delivered(relay) == {(authorized.get_message(first).summary.message_id, "bob@example.org")}
    assert_deferred_by_violation(authorized, second)
    assert_sent_means_delivered(authorized, relay)


async def test_pipelining_is_used_when_advertised(authorized: Queue, clock: FakeClock, enqueue: Enqueue) -> None:
    async with HostileRelay(pipelining=True) as relay:
        ids = [enqueue(["bob@example.org", "carol@example.org", "dan@example.org"]) for _ in range(2)]
        await run_once(make_worker(authorized, clock, hostile_target(relay)), relay)
    assert {authorized.get_message(i).summary.status for i in ids} == {Status.SENT}
    [conn] = relay.connections
    groups = conn.groups()
    # Each transaction's MAIL, RCPTs and DATA (and the RSET before a reused session's) came in one read.
    assert ["MAIL", "RCPT", "RCPT", "RCPT", "DATA"] in groups, groups
    assert ["RSET", "MAIL", "RCPT", "RCPT", "RCPT", "DATA"] in groups, groups
    assert_sent_means_delivered(authorized, relay)


async def test_pipelining_is_not_used_when_not_advertised(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, relay: HostileRelay
) -> None:
    ids = [enqueue(["bob@example.org", "carol@example.org", "dan@example.org"]) for _ in range(2)]
    await run_once(make_worker(authorized, clock, hostile_target(relay)), relay)
    assert {authorized.get_message(i).summary.status for i in ids} == {Status.SENT}
    [conn] = relay.connections
    assert all(len(g) == 1 for g in conn.groups()), conn.groups()  # one command, then its reply awaited
    assert conn.verbs().count("RCPT") == 6
    assert_sent_means_delivered(authorized, relay)


def rcpt_of(address: str):  # type: ignore[no-untyped-def]
    return lambda s: s.arg.startswith(f"<{address}>".encode())


# (what the relay does, each recipient's (status, code) after one attempt, the message's status)
MISBEHAVIOURS = {
    "452-one-rcpt": (
        lambda r: r.script.on("RCPT", *reply("452 4.2.2 Mailbox full"), when=rcpt_of("b@example.org")),
        {"a@example.org": ("delivered", 250), "b@example.org": ("pending", 452), "c@example.org": ("delivered", 250)},
        Status.DEFERRED,
    ),
    "550-one-rcpt": (
        lambda r: r.script.on("RCPT", *reply("550 5.1.1 No such user"), when=rcpt_of("b@example.org")),
        {"a@example.org": ("delivered", 250), "b@example.org": ("failed", 550), "c@example.org": ("delivered", 250)},
        Status.BOUNCED,
    ),
    "dropped-mid-group": (
        lambda r: r.script.on("RCPT", CLOSE, when=rcpt_of("b@example.org")),
        {a: ("pending", None) for a in ("a@example.org", "b@example.org", "c@example.org")},
        Status.DEFERRED,
    ),
    "data-250": (
        lambda r: r.script.on("DATA", *reply("250 2.0.0 Ok")),
        {a: ("pending", None) for a in ("a@example.org", "b@example.org", "c@example.org")},
        Status.DEFERRED,
    ),
    # Only 250 ends the data (RFC 5321 4.3.2): a 251 or 220 there is no proof the relay took the message.
    "end-of-data-251": (
        lambda r: r.script.on("EOD", *reply("251 2.0.0 sure")),
        {a: ("pending", None) for a in ("a@example.org", "b@example.org", "c@example.org")},
        Status.DEFERRED,
    ),
    "end-of-data-220": (
        lambda r: r.script.on("EOD", *reply("220 2.0.0 whatever")),
        {a: ("pending", None) for a in ("a@example.org", "b@example.org", "c@example.org")},
        Status.DEFERRED,
    ),
}


@pytest.mark.parametrize("pipelining", [False, True], ids=["lockstep", "pipelining"])
@pytest.mark.parametrize("case", list(MISBEHAVIOURS))
async def test_a_relay_misbehaving_mid_transaction_gets_the_same_outcomes_with_or_without_pipelining(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, pipelining: bool, case: str
) -> None:
    setup, expected, status = MISBEHAVIOURS[case]
    async with HostileRelay(pipelining=pipelining) as relay:
        setup(relay)
        mid = enqueue(["a@example.org", "b@example.org", "c@example.org"])
        await run_once(make_worker(authorized, clock, hostile_target(relay)), relay)
    summary = authorized.get_message(mid).summary
    assert (summary.status, summary.attempts) == (status, 1)
    assert states(authorized, mid) == expected
    if pipelining:
        assert any(len(g) > 2 for g in relay.connections[0].groups())  # it really was pipelined
    assert_sent_means_delivered(authorized, relay)


async def test_mail_that_needs_smtputf8_waits_when_the_relay_spoke_helo_only(
    authorized: Queue, clock: FakeClock, enqueue: Enqueue, relay: HostileRelay
) -> None:
    """EHLO refused, HELO taken: the relay said nothing of what it supports, so an internationalized address is
    not refused on its behalf (found by the audit: it was bounced 5.6.7, a refusal the relay never gave)."""
    relay.script.on("EHLO", *reply("502 5.5.2 Error: command not recognized"))
    mid = enqueue("bücher@example.org")
    await run_once(make_worker(authorized, clock, hostile_target(relay)), relay)
    summary = authorized.get_message(mid).summary
    assert summary.status == Status.DEFERRED
    assert states(authorized, mid) == {"bücher@example.org": ("pending", None)}
    assert (summary.last_reply or "").startswith("4.6.7 SMTPUTF8 is required")
    assert_sent_means_delivered(authorized, relay)
