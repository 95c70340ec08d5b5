"""The worker's leases: claiming due messages, giving them back, renewing a lease that is half gone.

A claim leases a message to one worker (``owner``) for ``seconds``; while the lease holds, no other worker on the
same queue file sends it. A killed worker's leases run out and its messages are claimed again.
"""

from __future__ import annotations

import asyncio
import logging

from mailgui.delivery.events import EventHub, MessageEvent
from mailgui.delivery.queue_thread import QueueThread
from mailgui.errors import Error, LeaseLostError
from mailgui.queue import ClaimedMessage, Status

log = logging.getLogger(__name__)


class Leases:
    """The messages one worker holds, and when it took each (loop time)."""

    def __init__(self, db: QueueThread, hub: EventHub, owner: str, seconds: float = 300.0):
        self.db = db
        self.hub = hub
        self.owner = owner
        self.seconds = seconds
        self.claimed_at: dict[int, float] = {}  # dropped once the message's outcome is recorded

    async def claim(self, limit: int, *, expired_only: bool = False) -> list[ClaimedMessage]:
        owner, seconds = self.owner, self.seconds
        claimed = await self.db.call(lambda q: q.claim_due(owner, limit, seconds, expired_only=expired_only))
        self.took(claimed)
        return claimed

    def took(self, claimed: list[ClaimedMessage]) -> None:
        """Note messages claimed (by :meth:`claim` or in a record commit) and say they are being sent."""
        if claimed:
            t = asyncio.get_running_loop().time()
            for msg in claimed:
                self.claimed_at[msg.id] = t
                self.hub.publish(MessageEvent(msg.id, Status.SENDING))

    async def release(self, msg: ClaimedMessage) -> None:
        """Give a lease back unsent: the message is due again at once."""
        self.claimed_at.pop(msg.id, None)
        try:
            await self.db.call(lambda q: q.release(msg.id, self.owner))
        except Error:
            log.exception("message %d: could not give its lease back (it expires on its own)", msg.id)
            return
        self.hub.publish(MessageEvent(msg.id, Status.QUEUED if msg.attempts == 0 else Status.DEFERRED))

    async def keep(self, msg: ClaimedMessage) -> bool:
        """Renew a lease that is half gone before sending on it; False if another worker has taken it over."""
        claimed_at = self.claimed_at.get(msg.id)
        now = asyncio.get_running_loop().time()
        if claimed_at is None or now - claimed_at < self.seconds / 2:
            return True
        try:
            await self.db.call(lambda q: q.extend_lease(msg.id, self.owner, self.seconds))
        except LeaseLostError:
            log.warning("message %d: lease lost before sending; another worker has it", msg.id)
            self.claimed_at.pop(msg.id, None)
            return False
        self.claimed_at[msg.id] = now
        return True
