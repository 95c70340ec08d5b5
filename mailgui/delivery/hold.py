"""Mail waiting for a backed-off relay (Postfix's "delivery temporarily suspended").

While the relay is left alone, every message due before its next try is deferred to that time, with the
relay's failure as its last reply, so the queue view says why mail waits and until when. Writes go in bounded
batches on the worker's queue thread (a queue may hold a million messages: never one long transaction, never
in the loop). Held messages do not outlive the worker that held them: a worker starting fresh (or on another
relay, after the settings changed) makes them due at once, so a fixed setting takes effect now.
"""

from __future__ import annotations

import logging

from mailgui.delivery.events import EventHub, MessageEvent
from mailgui.delivery.policy import RelayBackoff
from mailgui.delivery.queue_thread import QueueThread
from mailgui.queue import Status

log = logging.getLogger(__name__)

HOLD_BATCH = 500  # messages per write (one short transaction each)
HELD = "delivery temporarily suspended: "  # the last reply of a message held for the relay (never tried since)


class RelayHold:
    """Holds due messages for the relay's backoff, and releases an earlier worker's holds."""

    def __init__(self, db: QueueThread, hub: EventHub):
        self.db = db
        self.hub = hub
        self.release_pending = False  # set when a worker starts fresh on a relay; cleared once released

    async def hold_due(self, backoff: RelayBackoff, code: int | None) -> bool:
        """Defer one batch of the messages due before ``backoff.until`` to that time (no attempt is counted).
        True if there may be more."""
        until = backoff.until
        reason = HELD + (backoff.reason or "the relay is unreachable")
        held = await self.db.call(lambda q: q.hold_due(until, reason, code, HOLD_BATCH))
        for message_id, next_attempt_at in held:
            self.hub.publish(MessageEvent(message_id, Status.DEFERRED, error=reason, next_attempt_at=next_attempt_at))
        if held:
            log.info("relay backed off: %d more messages wait for it until its next try", len(held))
        return len(held) == HOLD_BATCH

    async def release(self) -> None:
        """If pending: make every held message due now (in batches), then stop being pending."""
        if not self.release_pending:
            return
        now = self.db.clock.now()
        while True:
            released = await self.db.call(lambda q: q.release_held(HELD, HOLD_BATCH))
            for message_id in released:
                self.hub.publish(MessageEvent(message_id, Status.DEFERRED, next_attempt_at=now))
            if len(released) < HOLD_BATCH:
                self.release_pending = False
                return
