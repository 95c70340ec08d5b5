"""The Mailbox view: what arrived at the built-in local relay, newest first, each message in the same tabs
as the queue's details pane."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QMessageBox,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from mailgui.clock import Clock, SystemClock
from mailgui.errors import Error, UnknownMessageError
from mailgui.gui import timefmt
from mailgui.gui.lists.paged_model import PagedTableModel
from mailgui.gui.lists.record_list import RecordListView
from mailgui.gui.queue_view.cells import display_sender
from mailgui.gui.resources import icon
from mailgui.gui.widgets.confirm import open_confirm
from mailgui.gui.widgets.message_tabs import MessageTabs, size_text
from mailgui.queue import MailboxEntry, Queue

log = logging.getLogger(__name__)

(COL_RECEIVED, COL_FROM, COL_TO, COL_SUBJECT, COL_SIZE) = range(5)


def envelope_sender(e: MailboxEntry) -> str:
    if e.from_header:
        return display_sender(e.from_header)
    return e.mail_from or "<> (delivery report)"


class MailboxModel(PagedTableModel[MailboxEntry]):
    COLUMNS = ("Received", "From", "To", "Subject", "Size")

    def count(self) -> int:
        return self.queue.count_mailbox()

    def read(self, offset: int, limit: int) -> list[MailboxEntry]:
        return self.queue.list_mailbox(limit=limit, offset=offset)

    def signature(self) -> object:
        newest = self.queue.list_mailbox(limit=1)
        return (self.queue.count_mailbox(), newest[0].id if newest else 0)

    def cell(self, e: MailboxEntry, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if column == COL_RECEIVED:
                return timefmt.stamp(e.received_at, self.clock.now())
            if column == COL_FROM:
                return envelope_sender(e)
            if column == COL_TO:
                more = len(e.rcpt_to) - 1
                return (e.rcpt_to[0] + (f" +{more}" if more > 0 else "")) if e.rcpt_to else ""
            if column == COL_SUBJECT:
                return e.subject or "(no subject)"
            if column == COL_SIZE:
                return size_text(e.size)
        elif role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_RECEIVED:
                return f"{timefmt.full_stamp(e.received_at)} from {e.peer}"
            if column == COL_FROM:
                return f"{e.from_header}\nMAIL FROM:<{e.mail_from}>"
            if column == COL_TO:
                return "\n".join(e.rcpt_to)
            if column == COL_SUBJECT:
                return e.subject
        elif role == Qt.ItemDataRole.TextAlignmentRole and column == COL_SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class MailboxView(RecordListView[MailboxEntry]):
    """The local relay's mailbox. Clear it with the toolbar button (asks first, without blocking)."""

    READ_ERROR = "The mailbox could not be read"

    def __init__(self, queue: Queue, parent: Any = None, clock: Clock | None = None):
        super().__init__(parent)
        self.queue = queue
        self.clock: Clock = clock or SystemClock()
        self.confirm_box: QMessageBox | None = None
        self._build_list(
            MailboxModel(queue, self.clock, self),
            "mailboxTable",
            key=lambda e: e.id,
            count_text=lambda n: f"{n:,} message{'s' if n != 1 else ''}",
            show=self.show_entry,
            after_refresh=self._refreshed,
        )
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_SUBJECT, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_RECEIVED, 100), (COL_FROM, 170), (COL_TO, 200), (COL_SIZE, 80)):
            self.table.setColumnWidth(col, width)

        self.envelope = QLabel()
        self.envelope.setWordWrap(True)
        self.envelope.setTextFormat(Qt.TextFormat.PlainText)
        self.envelope.setProperty("role", "hint")
        self.envelope.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tabs = MessageTabs()
        right = QWidget()
        right_col = QVBoxLayout(right)
        right_col.setContentsMargins(8, 0, 0, 0)
        right_col.addWidget(self.envelope)
        right_col.addWidget(self.tabs, 1)

        # Refresh has no key of its own: F5 is the main window's, and its refresh reaches this view.
        self.refresh_action = QAction(icon("refresh"), "Refresh", self)
        self.refresh_action.setToolTip("Read the mailbox again (F5)")
        self.refresh_action.triggered.connect(self.refresh)
        self.clear_action = QAction(icon("remove"), "Clear mailbox…", self)
        self.clear_action.setShortcut(QKeySequence("Ctrl+Shift+Delete"))
        self.clear_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.clear_action.setToolTip("Clear mailbox (Ctrl+Shift+Delete)")
        self.clear_action.triggered.connect(self.clear_mailbox)
        self.addAction(self.clear_action)
        self.model.modelReset.connect(self._update_clear_action)
        self._update_clear_action()
        self.toolbar = QToolBar("Mailbox actions")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.addAction(self.refresh_action)
        self.toolbar.addAction(self.clear_action)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.count_label)
        intro = QLabel(
            "Mail the built-in local relay accepted. Nothing here left this computer; "
            "bounce reports to local senders land here too."
        )
        intro.setProperty("role", "hint")
        intro.setWordWrap(True)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.table)
        splitter.addWidget(right)
        splitter.setSizes([600, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.toolbar)
        layout.addWidget(intro)
        layout.addWidget(splitter, 1)
        self.show_entry(None)

    # -- the list ------------------------------------------------------------------------------------------
    def _refreshed(self, changed: bool, reselected: bool) -> None:
        # Unchanged: the list, the selection and the message stay as they are.
        if changed and not reselected:
            self.show_entry(None)

    def clear_mailbox(self) -> None:
        n = self.model.rowCount()
        self.confirm_box = open_confirm(
            self,
            "Clear mailbox",
            f"Delete all {n:,} message{'s' if n != 1 else ''} in the local mailbox?",
            "This only empties the local relay's mailbox; the queue is not touched.",
            "Clear",
            self._clear_confirmed,
        )

    # -- internals -----------------------------------------------------------------------------------------
    def _clear_confirmed(self, result: int) -> None:
        box, self.confirm_box = self.confirm_box, None
        if box is not None:
            box.deleteLater()
        if result != QMessageBox.StandardButton.Yes:
            return
        try:
            self.queue.clear_mailbox()
        except Error as exc:
            self.count_label.setText(f"The mailbox could not be cleared: {exc}")
            return
        self.refresh()

    def _update_clear_action(self) -> None:
        self.clear_action.setEnabled(self.model.rowCount() > 0)

    def show_entry(self, e: MailboxEntry | None) -> None:
        """The message ``e`` beside the list (its envelope and its tabs), or a hint for none."""
        if e is None:
            self.envelope.setText("Select a message to read it.")
            self.tabs.clear_message()
            return
        try:
            received = self.queue.get_received(e.id)
        except UnknownMessageError:
            self.envelope.setText("This message is no longer in the mailbox.")
            self.tabs.clear_message()
            return
        except Error as exc:
            log.warning("mailbox: cannot read message %s: %s", e.id, exc)
            self.envelope.setText(str(exc))
            return
        self.envelope.setText(
            f"Received {timefmt.full_stamp(e.received_at)} from {e.peer} · "
            f"MAIL FROM:<{e.mail_from}> · RCPT TO: {', '.join(e.rcpt_to)} · {size_text(e.size)}"
        )
        self.tabs.set_message(received.raw)
