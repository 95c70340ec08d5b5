"""Many messages in one transaction: for benchmarks and imports that would take minutes one commit at a time."""

from __future__ import annotations

from collections.abc import Iterable

from mailgui.message import OutgoingMessage
from mailgui.queue.rows import insert_message, message_lifetime
from mailgui.queue.store import Queue


def enqueue_many(
    queue: Queue,
    messages: Iterable[OutgoingMessage],
    *,
    authorize: bool = True,
    created_at: Iterable[float] | None = None,
) -> int:
    """Store every message as :meth:`Queue.enqueue` would, in one transaction; returns how many.

    ``created_at`` optionally gives each message its own creation (and first-attempt) time, so a bench can
    spread a million messages over months instead of one instant. Nothing is stored if any sender is refused.
    """
    now = queue.clock.now()
    times = iter(created_at) if created_at is not None else None
    count = 0
    with queue._tx() as c:
        allowed = message_lifetime(c)
        checked: set[str] = set()
        for msg in messages:
            if authorize and msg.sender.address not in checked:
                queue._check_sender(msg.sender.address)
                checked.add(msg.sender.address)
            at = next(times) if times is not None else now
            insert_message(
                c,
                msg.message_id,
                msg.sender.address,
                str(msg.sender),
                msg.subject,
                msg.raw,
                msg.smtputf8,
                list(msg.recipients),
                at,
                at,
                at + allowed,
                0,
                "normal",
                None,
            )
            count += 1
    return count
