"""The queue as the rest of mailgui sees it: a few Protocols, one for each kind of caller.

Code outside ``queue/`` takes the Protocol it uses, not :class:`~mailgui.queue.Queue` (the SQLite backend), so it
never sees SQL or a backend's name, and a second backend (PostgreSQL) is a class that implements these, not a
rewrite of its callers. Every method of every backend raises :class:`~mailgui.errors.StorageError` when the store
cannot be used (locked too long, full, read-only, damaged); anything else it raises is a bug or named in its
docstring. ``tests/queue/test_interface.py`` checks that the SQLite queue implements each one and that each of
its public methods is in one of them, so the interface cannot drift from what the backend offers.

Who calls what:

- :class:`EnqueueSide`: ``mail.py`` (``send_mail``), ``mailgui send``, the compose window.
- :class:`WorkerSide`: ``delivery/``: leased claims, attempts and the reports they call for, holds for a
  relay that is left alone.
- :class:`QueueViews`: the queue, bounces and counts the GUI shows; ``mailgui queue`` and ``mailgui show``.
- :class:`UserActions`: what the user does to one message: cancel, retry, delete.
- :class:`SettingsAndSenders`: ``settings.py`` (validated settings) and the authorized senders.
- :class:`Drafts`: compose windows' drafts.
- :class:`LocalMailbox`: the built-in relay's mailbox and its simulator counters.
- :class:`EventStream`: ``mailgui events`` and webhooks: every recipient's state changes, in order.
- :class:`LateReports`: the bounce readers (IMAP, the local mailbox, ``mailgui bounces read``) and the
  suppression list (``mailgui suppressions``, the GUI).
- :class:`QueueBackend`: all of the above and ``close``: what opening a queue returns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Protocol, runtime_checkable

from mailgui.bounces import Report
from mailgui.clock import Clock
from mailgui.message import OutgoingMessage
from mailgui.queue.drafts import Draft, DraftFields
from mailgui.queue.event_log import Event
from mailgui.queue.late_reports import ReceivedReport, ReportWriter, SoftRule
from mailgui.queue.mailbox import MailboxEntry, ReceivedMessage
from mailgui.queue.records import (
    Attempt,
    AttemptOutcome,
    Bounce,
    ClaimedMessage,
    MessageDetail,
    MessageSummary,
    NewReport,
    Recorded,
    Suppression,
    WaitingScan,
)

# A status filter: one status, several, or None for every status.
StatusFilter = str | Iterable[str] | None


@runtime_checkable
class EnqueueSide(Protocol):
    """Putting a validated message in the queue."""

    clock: Clock  # the queue's time: a message's Date header and its first attempt agree

    def enqueue(
        self,
        msg: OutgoingMessage,
        *,
        not_before: float | None = None,
        lifetime: float | None = None,
        authorize: bool = True,
        priority: int = 0,
    ) -> int:
        """Store ``msg``; returns its queue id once it is durable. Raises InvalidSenderError (with
        ``authorize``) for a sender that is not authorized, in the same transaction as the store."""
        ...


@runtime_checkable
class WorkerSide(Protocol):
    """The delivery worker's side: leases, attempts, reports, and holds while a relay is left alone.

    A lease belongs to ``owner`` (one worker) until ``lease_seconds`` pass; a write for a lease that was lost
    raises LeaseLostError (or reports it per message in a batch: :data:`Recorded`)."""

    def claim_due(
        self, owner: str, limit: int, lease_seconds: float, *, expired_only: bool = False
    ) -> list[ClaimedMessage]: ...

    def next_due_at(self) -> float | None: ...

    def extend_lease(self, message_id: int, owner: str, lease_seconds: float) -> None: ...

    def extend_leases(self, message_ids: Sequence[int], owner: str, lease_seconds: float) -> set[int]: ...

    def release(self, message_id: int, owner: str) -> None: ...

    def release_all(self, owner: str, *, keep: Collection[int] = ()) -> int: ...

    def record_attempt(
        self, message_id: int, owner: str, attempt: Attempt, retry_at: float | None
    ) -> AttemptOutcome: ...

    def record_attempts(
        self,
        owner: str,
        items: Sequence[tuple[int | ClaimedMessage, Attempt, float | None]],
        report: Callable[[int, AttemptOutcome], NewReport | None] | None = None,
    ) -> list[Recorded]: ...

    def record_and_claim(
        self,
        owner: str,
        items: Sequence[tuple[int | ClaimedMessage, Attempt, float | None]],
        report: Callable[[int, AttemptOutcome], NewReport | None] | None = None,
        *,
        claim: int = 0,
        lease_seconds: float = 0.0,
    ) -> tuple[list[Recorded], list[ClaimedMessage]]: ...

    def enqueue_report(
        self, *, parent_id: int, message_id: str, recipient: str, subject: str, raw: bytes, smtputf8: bool = False
    ) -> int: ...

    def mark_warned(self, message_id: int) -> None: ...

    def hold_due(self, until: float, reason: str, code: int | None, limit: int) -> list[tuple[int, float]]: ...

    def release_held(self, reason_prefix: str, limit: int) -> list[int]: ...

    def warn_waiting(
        self,
        after_id: int,
        window: int,
        limit: int,
        delay: float,
        build: Callable[[ClaimedMessage, float | None], NewReport | None],
    ) -> WaitingScan: ...


@runtime_checkable
class QueueViews(Protocol):
    """Reads for lists, details and counts: keyset paging on the id, filtered by status and a search."""

    def data_version(self) -> int:
        """Changes when another connection or process commits: cheap to poll."""
        ...

    def counts_by_status(self) -> dict[str, int]: ...

    def count_messages(
        self,
        status: StatusFilter = None,
        search: str | None = None,
        *,
        after_id: int | None = None,
        before_id: int | None = None,
    ) -> int: ...

    def list_messages(
        self,
        status: StatusFilter = None,
        search: str | None = None,
        *,
        limit: int = 100,
        before_id: int | None = None,
        after_id: int | None = None,
        newest_first: bool = True,
        offset: int = 0,
    ) -> list[MessageSummary]: ...

    def message_ids(
        self,
        status: StatusFilter = None,
        search: str | None = None,
        *,
        after_id: int | None = None,
        before_id: int | None = None,
    ) -> list[int]: ...

    def get_summaries(self, ids: Sequence[int]) -> list[MessageSummary]: ...

    def get_message(self, message_id: int) -> MessageDetail:
        """Raises UnknownMessageError if there is no such message."""
        ...

    def list_bounces(self, *, limit: int = 100, offset: int = 0) -> list[Bounce]: ...

    def count_bounces(self) -> int: ...

    def count_deferred_since(self, since: float) -> int: ...

    def count_reports(self, *, unmatched: bool = False, kind: str | None = None) -> int:
        """Reports received by mail (late bounces, complaints, ...), all or only unmatched, of one kind or all."""
        ...


@runtime_checkable
class UserActions(Protocol):
    """What the user does to messages in the queue. A message being sent right now is left alone."""

    def cancel(self, message_id: int) -> None: ...

    def requeue(self, message_id: int) -> None: ...

    def delete(self, message_ids: Iterable[int]) -> int: ...


@runtime_checkable
class SettingsAndSenders(Protocol):
    """Stored settings (strings; validated above this layer, in ``mailgui.settings``) and authorized senders."""

    def get_setting(self, key: str) -> str | None: ...

    def set_setting(self, key: str, value: str) -> None: ...

    def delete_setting(self, key: str) -> None: ...

    def all_settings(self) -> dict[str, str]: ...

    def list_senders(self) -> list[str]: ...

    def add_sender(self, pattern: str) -> bool: ...

    def remove_sender(self, pattern: str) -> bool: ...

    def is_authorized(self, address: str) -> bool: ...


@runtime_checkable
class Drafts(Protocol):
    """Compose windows' drafts, kept beside the queue so they survive a crash."""

    def save_draft(self, fields: DraftFields, draft_id: int | None = None) -> int: ...

    def get_draft(self, draft_id: int) -> Draft: ...

    def list_drafts(self) -> list[Draft]: ...

    def count_drafts(self) -> int: ...

    def delete_draft(self, draft_id: int) -> bool: ...


@runtime_checkable
class LocalMailbox(Protocol):
    """The built-in relay's side: what arrived at it (shown in the Mailbox view) and its simulator counters."""

    def store_received(self, mail_from: str, rcpt_to: Sequence[str], raw: bytes, peer: str) -> int: ...

    def store_received_many(self, messages: Sequence[tuple[str, Sequence[str], bytes, str]]) -> list[int]: ...

    def count_mailbox(self) -> int: ...

    def list_mailbox(
        self, *, limit: int = 100, before_id: int | None = None, after_id: int | None = None, offset: int = 0
    ) -> list[MailboxEntry]: ...

    def get_received(self, mailbox_id: int) -> ReceivedMessage: ...

    def delete_received(self, mailbox_ids: Iterable[int]) -> int: ...

    def clear_mailbox(self) -> int: ...

    def bump_sim(self, key: str) -> int: ...

    def get_sim(self, key: str) -> int: ...

    def reset_sim(self, keys: Iterable[str]) -> int: ...

    def clear_sim(self) -> int: ...


@runtime_checkable
class LateReports(Protocol):
    """Reports that come back by mail (late bounces, complaints, auto-replies), and the suppression list."""

    def record_report(
        self,
        raw: bytes,
        report: Report,
        source: str,
        *,
        verp_id: int | None = None,
        soft: SoftRule | None = None,
        report_writer: ReportWriter | None = None,
    ) -> ReceivedReport: ...

    def get_report(self, report_id: int) -> ReceivedReport: ...

    def report_raw(self, report_id: int) -> bytes: ...

    def list_reports(self, *, unmatched: bool = False, limit: int = 100, offset: int = 0) -> list[ReceivedReport]: ...

    def add_suppression(self, address: str, reason: str = "added by hand") -> bool: ...

    def remove_suppressions(self, addresses: list[str]) -> int: ...

    def list_suppressions(self, search: str = "") -> list[Suppression]: ...

    def suppression_of(self, address: str) -> Suppression | None: ...

    def take_lease(self, name: str, owner: str, seconds: float) -> bool: ...

    def verp_key(self) -> bytes: ...

    def drop_lease(self, name: str, owner: str) -> None: ...


@runtime_checkable
class EventStream(Protocol):
    """The per-recipient event stream: `mailgui events`, webhooks."""

    def events_after(self, after_id: int = 0, limit: int = 1000) -> list[Event]: ...

    def last_event_id(self) -> int: ...


@runtime_checkable
class QueueBackend(
    EnqueueSide,
    WorkerSide,
    QueueViews,
    UserActions,
    SettingsAndSenders,
    Drafts,
    LocalMailbox,
    LateReports,
    EventStream,
    Protocol,
):
    """A whole queue: every side, and closing it. What opening a queue gives; pass on only the side a part uses."""

    def close(self) -> None: ...
