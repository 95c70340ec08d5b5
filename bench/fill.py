"""Filling a queue file for the benches: ``n`` copies of one small message, in transactions of 50,000."""

from __future__ import annotations

from mailgui.clock import Clock
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue
from mailgui.queue.bulk import enqueue_many

CHUNK = 50_000


def queue_copies(q: Queue, n: int, clock: Clock) -> None:
    """Authorize example.com and queue ``n`` copies of one message from ann@ to bob@."""
    q.add_sender("@example.com")
    fields = MessageFields(sender="ann@example.com", to="bob@example.org", subject="s", body="b")
    msg = build_message(fields, now=clock.now())
    for start in range(0, n, CHUNK):
        enqueue_many(q, [msg] * min(CHUNK, n - start))
