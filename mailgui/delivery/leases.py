"""The worker's leases: claiming due messages, giving them back, renewing a lease that is half gone.

A claim leases a message to one worker (``owner``) for ``seconds``; while the lease holds, no other worker on the
same queue file sends it. A killed worker's leases run out and its messages are claimed again. A running worker
renews the leases it holds once they are half gone (on each pass of its loop, and before each send), so a message
that waits long in its feed, or a send that takes long, is never claimed again behind its back.

Times are the injected clock's, as the queue's lease times are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from mailgui.clock import Clock
from mailgui.delivery.events import EventHub, MessageEvent
from mailgui.delivery.queue_thread import QueueThread
from mailgui.errors import Error, LeaseLostError
from mailgui.queue import ClaimedMessage, Status

log = logging.getLogger(__name__)


class Leases:
    """The messages one worker holds, and when it took or last renewed each (the injected clock's time)."""

    def __init__(self, db: QueueThread, hub: EventHub, owner: str, clock: Clock, seconds: float = 300.0):
        self.db = db
        self.hub = hub
        self.owner = owner
        self.clock = clock
        self.seconds = seconds
        self.claimed_at: dict[int, float] = {}  # when each held lease was taken or renewed; dropped once recorded
        # Sent, but the outcome could not be written: left leased until the lease runs out (see unrecorded).
        self.unrecorded: set[int] = set()

    async def claim(self, limit: int, *, expired_only: bool = False) -> list[ClaimedMessage]:
        owner, seconds = self.owner, self.seconds
        claimed = await self.db.call(lambda q: q.claim_due(owner, limit, seconds, expired_only=expired_only))
        return self.took(claimed)

    def took(self, claimed: list[ClaimedMessage]) -> list[ClaimedMessage]:
        """Note messages claimed (by :meth:`claim` or in a record commit), say they are being sent, and return
        the ones new to this worker. One it already holds (its lease ran out while it waited, and the claim took
        it again) only has its lease renewed: it is not handed to a sender twice."""
        now = self.clock.now()
        new = []
        for msg in claimed:
            self.unrecorded.discard(msg.id)  # its lease ran out and it was claimed again: an ordinary claim now
            if msg.id not in self.claimed_at:
                new.append(msg)
                self.hub.publish(MessageEvent(msg.id, Status.SENDING))
            self.claimed_at[msg.id] = now
        return new

    def unrecorded_sends(self, message_ids: Iterable[int]) -> None:
        """These were sent but their outcomes could not be written. Their leases are neither renewed nor given back
        (given back, they would be sent again at once): they run out, and the messages are sent again then (at least
        once, as after a crash)."""
        for mid in message_ids:
            self.claimed_at.pop(mid, None)
            self.unrecorded.add(mid)

    async def release(self, msg: ClaimedMessage) -> None:
        """Give a lease back unsent: the message is due again at once."""
        self.claimed_at.pop(msg.id, None)
        try:
            await self.db.call(lambda q: q.release(msg.id, self.owner))
        except Exception:  # the queue file failing in any way: the lease still runs out
            log.exception("message %d: could not give its lease back (it expires on its own)", msg.id)
            return
        self.hub.publish(MessageEvent(msg.id, Status.QUEUED if msg.attempts == 0 else Status.DEFERRED))

    async def keep(self, msg: ClaimedMessage) -> bool:
        """Before sending: renew a lease that is half gone. False if the message is no longer this worker's (its
        outcome was recorded or it was given back meanwhile, or another worker has taken it over)."""
        claimed_at = self.claimed_at.get(msg.id)
        now = self.clock.now()
        if claimed_at is None:
            log.warning("message %d: no longer held by this worker; not sent again", msg.id)
            return False
        if now - claimed_at < self.seconds / 2:
            return True
        try:
            await self.db.call(lambda q: q.extend_lease(msg.id, self.owner, self.seconds))
        except LeaseLostError:
            log.warning("message %d: lease lost before sending; another worker has it", msg.id)
            self.claimed_at.pop(msg.id, None)
            return False
        self.claimed_at[msg.id] = now
        return True

    async def renew(self) -> None:
        """Renew every lease held that is half gone (messages waiting in the feed, sends in flight), in one write.
        A lease found lost is dropped: that message is not sent by this worker (one already in flight is left to
        end; its outcome will not be recorded)."""
        now = self.clock.now()
        due = [mid for mid, t in self.claimed_at.items() if now - t >= self.seconds / 2]
        if not due:
            return
        owner, seconds = self.owner, self.seconds
        try:
            held = await self.db.call(lambda q: q.extend_leases(due, owner, seconds))
        except Error:
            log.exception("could not renew %d leases (they run out on their own)", len(due))
            return
        for mid in due:
            if mid not in self.claimed_at:
                continue  # recorded while the renewal was written
            if mid in held:
                self.claimed_at[mid] = now
            else:
                log.warning("message %d: lease lost while held; another worker has it", mid)
                del self.claimed_at[mid]
