"""Finished attempts to the queue file: one transaction for a batch (with the reports they call for), then events."""

from __future__ import annotations

import logging
from collections import Counter

from mailgui.delivery.events import EventHub, MessageEvent
from mailgui.delivery.leases import Leases
from mailgui.delivery.queue_thread import QueueThread
from mailgui.delivery.report import DELAYED
from mailgui.delivery.reporting import FinishedAttempt, Reporter
from mailgui.errors import Error, SendingStoppedError
from mailgui.queue import AttemptOutcome, ClaimedMessage, NewReport, Recorded, Status, WorkerSide

log = logging.getLogger(__name__)

SUMMARY_SECONDS = 60.0  # a healthy run logs one line this often, not a line a message (the attempt log has those)


class Recorder:
    """Collects finished attempts; ``flush()`` writes them all in one transaction on the queue thread."""

    def __init__(self, db: QueueThread, owner: str, reporter: Reporter, hub: EventHub, leases: Leases):
        self.db = db
        self.owner = owner
        self.reporter = reporter
        self.hub = hub
        self.leases = leases  # the worker's; a recorded message is no longer held
        self.pending: list[FinishedAttempt] = []
        self.recorded = 0
        self.delay_warning = 0.0
        self.remote_mta: str | None = None
        self.tally: Counter[str] = Counter()  # messages recorded since the last summary, by state
        self.tally_since: float | None = None

    def add(self, done: FinishedAttempt) -> None:
        self.pending.append(done)

    async def flush(self, claim: int = 0, lease_seconds: float = 0.0) -> list[ClaimedMessage]:
        """Write every finished attempt (and queue their reports), then announce them.

        ``claim``: in the same transaction, lease up to that many due messages (returned) for the senders.

        Raises SendingStoppedError if the write fails, for any reason (the file busy beyond its timeout, full,
        damaged, or a bug): nothing of the batch was written, and sending on would only add to what is sent and not
        recorded. Those messages stay leased and are sent again once their leases run out (at least once).
        """
        outcomes, self.pending = self.pending, []
        if not outcomes:
            return []
        now = self.db.clock.now()
        remote, delay_warning = self.remote_mta, self.delay_warning
        try:
            recorded, claimed = await self.db.call(
                lambda q: self._write(q, outcomes, now, remote, delay_warning, claim, lease_seconds)
            )
        except Exception as exc:
            log.exception(
                "could not record %d attempts; sending stops (those messages stay leased and are sent again when "
                "their leases run out)",
                len(outcomes),
            )
            self.leases.unrecorded_sends(done.msg.id for done in outcomes)
            why = str(exc) if isinstance(exc, Error) else f"{type(exc).__name__}: {exc}"
            raise SendingStoppedError(f"could not record what was sent ({why})") from exc
        for done, (result, report_id) in zip(outcomes, recorded, strict=True):
            self.leases.claimed_at.pop(done.msg.id, None)
            if isinstance(result, Exception):
                log.warning("message %d: outcome not recorded: %s", done.msg.id, result)
                continue
            self.recorded += 1
            self.tally[result.status] += 1
            self._log(done, result)
            self.hub.publish(
                MessageEvent(
                    done.msg.id,
                    result.status,
                    done.attempt.results,
                    done.attempt.error,
                    done.retry_at if result.status == Status.DEFERRED else None,
                    report_id,
                )
            )
            if report_id is not None:
                self.hub.publish(MessageEvent(report_id, Status.QUEUED))
        self.summarize(now)
        return claimed

    def summarize(self, now: float, *, final: bool = False) -> None:
        """One INFO line for what was recorded over the last SUMMARY_SECONDS (and at the end of a run)."""
        if self.tally_since is None:
            self.tally_since = now
        if not self.tally or (not final and now - self.tally_since < SUMMARY_SECONDS):
            return
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.tally.items()))
        log.info("recorded %d messages in %.0f s: %s", sum(self.tally.values()), now - self.tally_since, counts)
        self.tally.clear()
        self.tally_since = now

    def _write(
        self,
        q: WorkerSide,
        outcomes: list[FinishedAttempt],
        now: float,
        remote: str | None,
        delay_warning: float,
        claim: int,
        lease_seconds: float,
    ) -> tuple[list[Recorded], list[ClaimedMessage]]:
        """On the queue thread: record the attempts and, in the same transaction, the reports they call for."""

        def report(index: int, result: AttemptOutcome) -> NewReport | None:
            done = outcomes[index]
            try:
                built = self.reporter.report_for(done, result, now=now, delay_warning=delay_warning, remote_mta=remote)
            except Exception:  # a report we cannot build must not lose the attempt's outcome
                log.exception("message %d: could not build the report to <%s>", done.msg.id, done.msg.sender)
                return None
            if built is None:
                return None
            log.info("message %d: %s report queued to <%s>", done.msg.id, built.action, built.recipient)
            return NewReport(
                built.message_id, built.recipient, built.subject, built.raw, built.smtputf8, built.action == DELAYED
            )

        items = [(o.msg, o.attempt, o.retry_at) for o in outcomes]
        return q.record_and_claim(self.owner, items, report, claim=claim, lease_seconds=lease_seconds)

    @staticmethod
    def _log(done: FinishedAttempt, result: AttemptOutcome) -> None:
        """Each recipient's outcome, at DEBUG: the attempt log in the queue keeps it for good."""
        if not log.isEnabledFor(logging.DEBUG):
            return
        for r in done.attempt.results:
            code = r.code if r.code is not None else "-"
            log.debug(
                "message %d to <%s> via %s: %s (%s %s) in %.3f s",
                done.msg.id,
                r.address,
                done.attempt.relay,
                r.status,
                code,
                r.reply,
                done.attempt.duration,
            )
        log.debug("message %d: %s", done.msg.id, result.status)
