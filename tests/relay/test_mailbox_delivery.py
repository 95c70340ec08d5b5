"""Mail to ordinary addresses lands in the local mailbox exactly as sent, bounce reports included."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import aiosmtplib
import pytest

from mailgui.clock import FakeClock
from mailgui.queue import Queue
from mailgui.relay import LocalRelay
from mailgui.relay.storage import RelayStorage
from tests.relay.client import connect, send

# 8-bit and UTF-8 content, a line starting with a dot (dot-stuffed on the wire), a long line, no trailing blank.
RAW = (
    "From: Jürgen <jürgen@example.com>\r\n"
    "To: you@localhost\r\n"
    "Subject: Grüße\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Grüße aus Köln.\r\n"
    ".a line that starts with a dot\r\n"
    "..and one with two\r\n"
    "\r\n"
    f"{'x' * 990}\r\n"
    "last line\r\n"
).encode()


async def test_ordinary_address_is_accepted_with_the_exact_bytes(
    relay: LocalRelay, queue: Queue, clock: FakeClock
) -> None:
    errors, reply = await send(
        relay.port,
        "jürgen@example.com",
        ["you@localhost", "Someone@Example.ORG"],
        RAW,
        mail_options=["SMTPUTF8", "BODY=8BITMIME"],
    )
    assert errors == {}
    [entry] = queue.list_mailbox()
    assert reply == f"2.0.0 Ok: queued as {entry.id}"
    got = queue.get_received(entry.id)
    assert got.raw == RAW
    assert entry.mail_from == "jürgen@example.com"
    assert entry.rcpt_to == ("you@localhost", "Someone@Example.ORG")
    assert entry.peer.startswith("127.0.0.1:")
    assert (entry.from_header, entry.subject) == ("Jürgen <jürgen@example.com>", "Grüße")
    assert entry.received_at == clock.now()
    assert entry.size == len(RAW)


async def test_bounce_report_to_a_local_sender_is_kept_with_the_null_sender(relay: LocalRelay, queue: Queue) -> None:
    report = (
        b"From: Mail Delivery System <MAILER-DAEMON@localhost>\r\n"
        b"To: you@localhost\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"\r\n"
        b"report\r\n"
    )
    errors, _ = await send(relay.port, "", ["you@localhost"], report)
    assert errors == {}
    [entry] = queue.list_mailbox()
    assert entry.mail_from == ""
    assert entry.subject == "Undelivered Mail Returned to Sender"
    assert queue.get_received(entry.id).raw == report


async def test_one_connection_carries_several_messages(relay: LocalRelay, queue: Queue) -> None:
    client = await connect(relay.port)
    try:
        for n in range(3):
            await client.sendmail("a@example.com", [f"r{n}@example.net"], f"Subject: {n}\r\n\r\nbody\r\n".encode())
            await client.rset()
        await client.quit()
    finally:
        client.close()
    assert [e.subject for e in queue.list_mailbox()] == ["2", "1", "0"]


@pytest.mark.allow_log("mailgui.relay.handler", level=logging.ERROR, match=r"^local relay: cannot take the message: ")
async def test_storage_failure_answers_451_and_is_logged(
    relay: LocalRelay, queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    await relay.storage.close()  # the queue file is out of reach: the relay must not claim it took the mail
    with caplog.at_level(logging.ERROR, logger="mailgui.relay"), pytest.raises(aiosmtplib.SMTPDataError) as err:
        await send(relay.port, "a@example.com", ["friend@example.org"], RAW)
    assert err.value.code == 451
    assert err.value.message.startswith("4.3.0 ")
    assert "local relay: cannot take the message" in caplog.text
    assert queue.count_mailbox() == 0


async def test_messages_arriving_together_are_committed_together(db_path: Path, clock: FakeClock) -> None:
    storage = RelayStorage(db_path, clock)
    await storage.open()
    try:
        batches: list[int] = []
        real = storage.queue.store_received_many

        def spy(items: Sequence[tuple[str, Sequence[str], bytes, str]]) -> list[int]:
            batches.append(len(items))
            return real(items)

        storage.queue.store_received_many = spy  # type: ignore[method-assign]
        raws = [f"Subject: {n}\r\n\r\nbody {n}\r\n".encode() for n in range(5)]
        ids = await asyncio.gather(*(storage.store_received("a@example.com", ["b@example.org"], r, "") for r in raws))
        assert batches == [5]  # one transaction, one fsync
        later = await storage.store_received("a@example.com", ["b@example.org"], b"\r\nlater\r\n", "")
        assert batches == [5, 1]
        with Queue(db_path) as q:
            assert [q.get_received(i).raw for i in ids] == raws  # each sender got its own message's id
            assert later not in ids
    finally:
        await storage.close()
