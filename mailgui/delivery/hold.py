"""Mail waiting for a backed-off relay (Postfix's "delivery temporarily suspended").

While the relay is left alone, every message due before its next try is deferred to that time, with the
relay's failure as its last reply, so the queue view says why mail waits and until when. Writes go in bounded
batches on the worker's queue thread (a queue may hold a million messages: never one long transaction, never
in the loop). Held messages do not outlive the worker that held them: a worker starting fresh (or on another
relay, after the settings changed) makes them due at once, so a fixed setting takes effect now.

Held mail records no attempt, so the attempt path never sends its delay warning (``bounce.delay_warning``).
While holding, :class:`HeldWarnings` does: it walks the queue by id in bounded windows (a pass), queues one
``Action: delayed`` report per message that has waited long enough, in the transaction that marks it warned,
and only starts another pass when the first message it saw waiting could call for one. Like Postfix, the
warning is queued although the relay is down; it is held with the rest and goes out when the relay is back.
"""

from __future__ import annotations

import logging

from mailgui.delivery.classify import RelayError
from mailgui.delivery.events import EventHub, MessageEvent
from mailgui.delivery.policy import RelayBackoff
from mailgui.delivery.queue_thread import QueueThread
from mailgui.delivery.report import DELAYED
from mailgui.delivery.reporting import Reporter
from mailgui.queue import ClaimedMessage, NewReport, Status, WaitingScan, WorkerSide

log = logging.getLogger(__name__)

HOLD_BATCH = 500  # messages per write (one short transaction each)
HELD = "delivery temporarily suspended: "  # the last reply of a message held for the relay (never tried since)
WARN_WINDOW = HOLD_BATCH  # ids looked at per write when looking for messages to warn
WARN_BATCH = 100  # delay warnings per write (each reads its message's bytes and builds a report)
WARN_PASS_GAP = 30.0  # seconds: passes start no closer than this (a message stuck in another worker's lease)


class RelayHold:
    """Holds due messages for the relay's backoff, and releases an earlier worker's holds."""

    def __init__(self, db: QueueThread, hub: EventHub, reporter: Reporter):
        self.db = db
        self.hub = hub
        self.release_pending = False  # set when a worker starts fresh on a relay; cleared once released
        self.warnings = HeldWarnings(db, hub, reporter)

    async def hold_due(
        self,
        backoff: RelayBackoff,
        failure: RelayError | None,
        delay_warning: float = 0.0,
        remote_mta: str | None = None,
    ) -> bool:
        """Queue one batch of delay warnings that are due (``delay_warning`` > 0), then defer one batch of the
        messages due before ``backoff.until`` to that time (no attempt is counted; the warnings just queued
        are held too). True if there may be more of either."""
        more = await self.warnings.step(delay_warning, failure, remote_mta)
        until = backoff.until
        reason = HELD + (backoff.reason or "the relay is unreachable")
        code = failure.code if failure is not None else None
        held = await self.db.call(lambda q: q.hold_due(until, reason, code, HOLD_BATCH))
        for message_id, next_attempt_at in held:
            self.hub.publish(MessageEvent(message_id, Status.DEFERRED, error=reason, next_attempt_at=next_attempt_at))
        if held:
            log.info("relay backed off: %d more messages wait for it until its next try", len(held))
        return more or len(held) == HOLD_BATCH

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


class HeldWarnings:
    """Delay warnings for held mail, found in passes over the queue by id, one bounded window per step.

    A pass starts at the first message the last pass saw still waiting unwarned (all before it were warned
    or done with), so a big queue is not walked again and again from the start; it starts only once that
    pass's first waiting message can be old enough. A message that falls below the start after being done
    with (a requeue) is warned by its next attempt instead. Whether to warn is decided again in each write
    (``warned_at IS NULL``), so a warning from an attempt, or from another worker, is never doubled.
    """

    def __init__(self, db: QueueThread, hub: EventHub, reporter: Reporter):
        self.db = db
        self.hub = hub
        self.reporter = reporter
        self.delay = 0.0  # the delay this state was computed for (a changed setting starts afresh)
        self.start_after = 0  # a pass starts after this id
        self.next_pass = 0.0  # and no sooner than this
        self.cursor: int | None = None  # in a pass: the last id looked at
        self.pass_started = 0.0
        self.first_waiting: int | None = None  # in a pass: the first unwarned message left waiting
        self.earliest = 0.0  # in a pass: the earliest time one of those may call for a warning

    async def step(self, delay: float, failure: RelayError | None, remote_mta: str | None) -> bool:
        """One window of the current pass (starting one if it is time). True if the pass goes on."""
        if delay != self.delay:
            self.delay, self.start_after, self.next_pass, self.cursor = delay, 0, 0.0, None
        if delay <= 0:
            return False
        now = self.db.clock.now()
        if self.cursor is None:
            if now < self.next_pass:
                return False
            self.cursor, self.pass_started, self.first_waiting, self.earliest = self.start_after, now, None, now + delay
        after = self.cursor

        def build(msg: ClaimedMessage, last_attempt: float | None) -> NewReport | None:
            try:
                report = self.reporter.held_warning(msg, last_attempt, failure, now=now, remote_mta=remote_mta)
            except Exception:  # one report we cannot build must not stop the others
                log.exception("message %d: could not build the delay warning to <%s>", msg.id, msg.sender)
                return None
            if report is None:
                return None
            return NewReport(report.message_id, report.recipient, report.subject, report.raw, report.smtputf8, True)

        def scan(q: WorkerSide) -> WaitingScan:
            return q.warn_waiting(after, WARN_WINDOW, WARN_BATCH, delay, build)

        found = await self.db.call(scan)
        for message_id, report_id in found.warned:
            log.info("message %d: %s report queued (held for the relay for %g s or more)", message_id, DELAYED, delay)
            self.hub.publish(MessageEvent(report_id, Status.QUEUED))
        if found.not_yet:
            if self.first_waiting is None:
                self.first_waiting = found.not_yet[0][0]
            self.earliest = min(self.earliest, *(at for _, at in found.not_yet))
        if not found.done:
            self.cursor = found.last_id
            return True
        self.cursor = None
        self.start_after = found.last_id if self.first_waiting is None else self.first_waiting - 1
        self.next_pass = max(self.earliest, self.pass_started + WARN_PASS_GAP)
        return False
