"""The local mailbox and the simulator counters in the queue file (mailgui/queue/mailbox.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgui.clock import FakeClock
from mailgui.errors import UnknownMessageError
from mailgui.queue import MailboxEntry, Queue, ReceivedMessage

RAW = (
    b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.com>\r\n"
    b"To: you@localhost\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and\r\n folded\r\n"
    b"\r\n"
    b"body line\r\n.leading dot kept as received\r\n\xff raw 8-bit byte\r\n"
)


def test_store_received_keeps_bytes_envelope_and_decoded_headers(queue: Queue, clock: FakeClock) -> None:
    new_id = queue.store_received("j@example.com", ["you@localhost", "b@example.org"], RAW, "127.0.0.1:4000")
    got = queue.get_received(new_id)
    assert isinstance(got, ReceivedMessage)
    assert got.raw == RAW
    assert got.entry == MailboxEntry(
        id=new_id,
        received_at=clock.now(),
        mail_from="j@example.com",
        rcpt_to=("you@localhost", "b@example.org"),
        peer="127.0.0.1:4000",
        from_header="Jürgen <j@example.com>",
        subject="Grüße and folded",
        size=len(RAW),
    )


def test_null_sender_and_headerless_message_are_stored(queue: Queue) -> None:
    new_id = queue.store_received("", ["you@localhost"], b"no headers at all, just text\r\n", "[::1]:1")
    entry = queue.get_received(new_id).entry
    assert (entry.mail_from, entry.from_header, entry.subject) == ("", "", "")


def test_list_is_newest_first_with_keyset_and_offset_paging(queue: Queue, clock: FakeClock) -> None:
    ids = []
    for n in range(7):
        clock.advance(1)
        ids.append(queue.store_received("a@example.com", ["you@localhost"], f"Subject: {n}\r\n\r\nx\r\n".encode(), ""))
    assert queue.count_mailbox() == 7
    first = queue.list_mailbox(limit=3)
    assert [e.subject for e in first] == ["6", "5", "4"]
    second = queue.list_mailbox(limit=3, before_id=first[-1].id)
    assert [e.subject for e in second] == ["3", "2", "1"]
    assert [e.subject for e in queue.list_mailbox(limit=3, before_id=second[-1].id)] == ["0"]
    assert [e.subject for e in queue.list_mailbox(limit=2, offset=5)] == ["1", "0"]
    assert [e.id for e in queue.list_mailbox(after_id=ids[4])] == [ids[6], ids[5]]


def test_unknown_id_names_the_field(queue: Queue) -> None:
    with pytest.raises(UnknownMessageError, match=r"^id: no message 99 in the mailbox"):
        queue.get_received(99)


def test_clear_and_delete(queue: Queue) -> None:
    ids = [queue.store_received("a@example.com", ["you@localhost"], b"Subject: x\r\n\r\n", "") for _ in range(3)]
    assert queue.delete_received([ids[0], 12345]) == 1
    assert queue.delete_received([]) == 0
    assert [e.id for e in queue.list_mailbox()] == [ids[2], ids[1]]
    assert queue.clear_mailbox() == 2
    assert queue.count_mailbox() == 0
    assert queue.list_mailbox() == []


def test_mailbox_is_shared_with_another_connection(queue: Queue, db_path: Path) -> None:
    other = Queue(db_path)
    try:
        new_id = other.store_received("a@example.com", ["you@localhost"], RAW, "")
        assert queue.get_received(new_id).raw == RAW
    finally:
        other.close()


def test_sim_counters_count_persist_and_reset(queue: Queue, db_path: Path) -> None:
    assert queue.get_sim("tempfail:a:b") == 0
    assert [queue.bump_sim("tempfail:a:b") for _ in range(3)] == [1, 2, 3]
    assert queue.bump_sim("greylist:a:b") == 1
    reopened = Queue(db_path)
    try:
        assert reopened.get_sim("tempfail:a:b") == 3
        assert reopened.bump_sim("tempfail:a:b") == 4
    finally:
        reopened.close()
    assert queue.reset_sim(["tempfail:a:b", "never:seen"]) == 1
    assert queue.reset_sim([]) == 0
    assert queue.get_sim("tempfail:a:b") == 0
    assert queue.get_sim("greylist:a:b") == 1
    assert queue.clear_sim() == 1
    assert queue.get_sim("greylist:a:b") == 0


def test_store_received_many_keeps_order_in_one_call(queue: Queue) -> None:
    ids = queue.store_received_many(
        [
            ("a@example.com", ["x@example.org"], b"Subject: one\r\n\r\n", "p1"),
            ("", ["you@localhost"], b"\r\n2\r\n", "p2"),
        ]
    )
    assert len(ids) == 2 and ids[0] < ids[1]
    assert [(e.subject, e.peer) for e in queue.list_mailbox()] == [("", "p2"), ("one", "p1")]
    assert queue.store_received_many([]) == []
