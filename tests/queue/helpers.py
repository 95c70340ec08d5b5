"""Building messages (and damaged queue files) for queue tests."""

from __future__ import annotations

from pathlib import Path

from mailgui.message import MessageFields, OutgoingMessage, build_message
from mailgui.queue import Queue
from mailgui.queue.bulk import enqueue_many
from mailgui.queue.drafts import DraftFields


def outgoing(
    sender: str = "Ann <ann@example.com>",
    to: str | list[str] = "bob@example.org",
    subject: str = "Hello",
    *,
    cc: str | list[str] | None = None,
    bcc: str | list[str] | None = None,
    now: float = 1_800_000_000.0,
) -> OutgoingMessage:
    return build_message(MessageFields(sender=sender, to=to, cc=cc, bcc=bcc, subject=subject, body="body"), now=now)


PAGE = 4096  # SQLite's default page size


def make_corrupt(path: Path) -> None:
    """A real queue file whose data pages are overwritten with garbage bytes; the header, the schema and
    every table's root page stay intact, so it opens and the damage shows on the first read."""
    Queue(path).close()
    schema_end = path.stat().st_size  # the empty file: header, schema, every table's root page
    with Queue(path) as q:
        # Every table gets more rows than its root page holds, so each has pages past the roots.
        for i in range(200):
            q.add_sender(f"sender-{i:04}-{'x' * 40}@example.com")
            q.set_setting(f"test.key{i:04}", "v" * 60)
        enqueue_many(q, [outgoing(subject=f"s{i}") for i in range(300)], authorize=False)
        for _ in range(10):
            q.store_received("a@example.com", ["b@example.org"], b"Subject: hi\r\n\r\n" + b"x" * 2000, "127.0.0.1:1")
            q.save_draft(DraftFields(subject="draft", body="y" * 2000))
    # Closing the last connection checkpointed the WAL into the main file: corrupt that.
    size = path.stat().st_size
    assert size > schema_end + 40 * PAGE
    with path.open("r+b") as f:
        f.seek(schema_end)
        f.write(b"\xa5\x5a" * ((size - schema_end) // 2))
