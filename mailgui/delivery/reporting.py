"""Which report an attempt's outcome calls for (Postfix's bounce daemon): failed, delayed, or none.

Reports go to the original sender; a report about a report is never made (no loops): a failed report is
logged and dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from mailgui.delivery.classify import RelayError, enhanced_status
from mailgui.delivery.report import DELAYED, FAILED, OriginalMessage, Report, ReportRecipient, build_report
from mailgui.delivery.transport import RecipientReply
from mailgui.queue import Attempt, AttemptOutcome, ClaimedMessage, NewReport, RecipientStatus, Status
from mailgui.queue.late_reports import LateOriginal, ReportedRecipient, ReportWriter

log = logging.getLogger(__name__)


@dataclass
class FinishedAttempt:
    """An attempt waiting to be written, with what the report needs (the replies, the relay's failure)."""

    msg: ClaimedMessage
    attempt: Attempt
    retry_at: float | None
    replies: dict[str, RecipientReply] = field(default_factory=dict)
    relay_error: RelayError | None = None


class Reporter:
    """Builds the report an outcome calls for. Pure: the caller queues it."""

    def __init__(self, reporting_mta: str):
        self.reporting_mta = reporting_mta

    def report_for(
        self,
        done: FinishedAttempt,
        result: AttemptOutcome,
        *,
        now: float,
        delay_warning: float,
        remote_mta: str | None,
    ) -> Report | None:
        msg = done.msg
        if msg.kind == "report" or not msg.sender:
            if result.newly_failed:
                log.warning(
                    "delivery report %d to <%s> could not be delivered (%s); dropped, never reported again",
                    msg.id,
                    ", ".join(r.address for r in result.newly_failed),
                    result.newly_failed[0].reply,
                )
            return None
        if result.newly_failed:
            recipients = [
                self._recipient(
                    done,
                    r.address,
                    r.code,
                    r.reply or "",
                    r.status == RecipientStatus.EXPIRED,
                    remote_mta,
                    suppressed=r.status == RecipientStatus.SUPPRESSED,
                )
                for r in result.newly_failed
            ]
            return self._build(FAILED, msg, recipients, now)
        if (
            result.status == Status.DEFERRED
            and delay_warning > 0
            and msg.warned_at is None
            and now - msg.created_at >= delay_warning
        ):
            by_address = {r.address: r for r in done.attempt.results}
            recipients = []
            for address in result.pending:
                last = by_address.get(address)
                code, reply = (last.code, last.reply) if last else (None, "")
                recipients.append(self._recipient(done, address, code, reply, False, remote_mta))
            return self._build(DELAYED, msg, recipients, now)
        return None

    def held_warning(
        self,
        msg: ClaimedMessage,
        last_attempt: float | None,
        failure: RelayError | None,
        *,
        now: float,
        remote_mta: str | None,
    ) -> Report | None:
        """The delay warning for a message held while the relay is left alone (no attempt of its own to report):
        the relay's failure stands for every pending recipient's reason."""
        if msg.kind == "report" or not msg.sender or not msg.recipients:
            return None
        if failure is None:
            status, code, reply = "4.4.1", None, "the relay is unreachable"
        else:
            status, code, reply = relay_reason(failure)
        status = "4" + status[1:]  # the relay's failure is temporary for these (RFC 3464: delayed is 4.x.x)
        recipients = [
            ReportRecipient(
                address=address,
                status=status,
                code=code,
                reply=reply,
                last_attempt=last_attempt,
                remote_mta=remote_mta if code is not None else None,
            )
            for address in msg.recipients
        ]
        return self._build(DELAYED, msg, recipients, now)

    def _recipient(
        self,
        done: FinishedAttempt,
        address: str,
        code: int | None,
        reply: str,
        expired: bool,
        remote_mta: str | None,
        *,
        suppressed: bool = False,
    ) -> ReportRecipient:
        if suppressed:  # mailgui's own verdict, for good until the address is lifted: no server was asked
            status, remote_mta = "5.0.0", None
        elif done.relay_error is not None:  # the relay failed as a whole: its reply (or why not) for everyone
            status, code, reply = relay_reason(done.relay_error)
            if code is None:
                remote_mta = None  # no server answered
        elif code is not None:
            status = enhanced_status(code, reply)
        elif reply[:1] in ("4", "5") and reply[1:2] == ".":  # e.g. '5.6.7 SMTPUTF8 is required...'
            status = enhanced_status(int(reply[0]) * 100, reply)
        else:
            status = "4.4.7" if expired else "4.0.0"  # 4.4.7: delivery time expired
        if expired and status.startswith("2"):
            status = "4.4.7"
        reply_info = done.replies.get(address)
        return ReportRecipient(
            address=address,
            status=status,
            code=code,
            reply=reply,
            expired=expired,
            stage=reply_info.stage if reply_info else None,
            last_attempt=done.attempt.started_at,
            remote_mta=remote_mta,
        )

    def _build(self, action: str, msg: ClaimedMessage, recipients: list[ReportRecipient], now: float) -> Report:
        return build_report(action, original_of(msg), recipients, reporting_mta=self.reporting_mta, now=now)


def original_of(msg: ClaimedMessage | LateOriginal) -> OriginalMessage:
    """What a report says of the message it is about, from the claim (at delivery) or the queue (reported later)."""
    return OriginalMessage(
        queue_id=msg.id,
        message_id=msg.message_id,
        sender=msg.sender,
        subject=msg.subject,
        arrival=msg.created_at,
        raw=msg.raw,
        smtputf8=msg.smtputf8,
        expires_at=msg.expires_at,
    )


def relay_reason(failure: RelayError) -> tuple[str, int | None, str]:
    """(status, code, reply) for a report about a relay-wide failure: the server's own reply when it answered
    (Diagnostic-Code: smtp; 421 4.7.0 ...), else mailgui's account of it (X-mailgui; cannot connect ...)."""
    if failure.code is not None and failure.reply:
        return failure.status, failure.code, failure.reply
    return failure.status, None, failure.detail


def late_report_writer(reporting_mta: str) -> ReportWriter:
    """What a report received later by VERP calls for: mailgui's own report to the sender (the relay's went to the
    VERP address), written as the reports about failures at delivery are."""

    def write(original: LateOriginal, failed: list[ReportedRecipient], now: float) -> NewReport | None:
        recipients = [
            ReportRecipient(r.address, r.status or "5.0.0", None, f"reported later: {r.diagnostic}") for r in failed
        ]
        built = build_report(FAILED, original_of(original), recipients, reporting_mta=reporting_mta, now=now)
        return NewReport(built.message_id, built.recipient, built.subject, built.raw, built.smtputf8, False)

    return write


__all__ = ["DELAYED", "FAILED", "FinishedAttempt", "Reporter", "late_report_writer", "relay_reason"]
