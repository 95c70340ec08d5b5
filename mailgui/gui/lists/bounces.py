"""The Bounces view: every recipient that failed for good, why, when, and the message it belongs to."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSplitter,
    QVBoxLayout,
)

from mailgui.clock import Clock, SystemClock
from mailgui.gui import status_style, timefmt
from mailgui.gui.lists.paged_model import RECORD_ROLE, PagedTableModel
from mailgui.gui.lists.record_list import RecordListView
from mailgui.gui.resources import icon
from mailgui.gui.widgets.details import DetailsPane
from mailgui.queue import Bounce, Queue

(COL_STATE, COL_RECIPIENT, COL_REASON, COL_DIAGNOSTIC, COL_DATE, COL_MESSAGE) = range(6)


class BouncesModel(PagedTableModel[Bounce]):
    COLUMNS = ("State", "Recipient", "Reason", "Diagnostic", "Date", "Message")

    def count(self) -> int:
        return self.queue.count_bounces()

    def read(self, offset: int, limit: int) -> list[Bounce]:
        return self.queue.list_bounces(limit=limit, offset=offset)

    def signature(self) -> object:
        newest = self.queue.list_bounces(limit=1)
        return (self.queue.count_bounces(), newest[0] if newest else None)

    def cell(self, b: Bounce, column: int, role: int) -> Any:
        style = status_style.recipient_state(b.status)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == COL_STATE:
                return style.word
            if column == COL_RECIPIENT:
                return b.address
            if column == COL_REASON:
                return status_style.failure_reason(b.status, b.code, b.reply)
            if column == COL_DIAGNOSTIC:
                return status_style.reply_text(b.code, b.reply)
            if column == COL_DATE:
                return "" if b.at is None else timefmt.stamp(b.at, self.clock.now())
            if column == COL_MESSAGE:
                return f"#{b.message_id} {b.subject or '(no subject)'}"
        elif column == COL_STATE:
            if role == Qt.ItemDataRole.DecorationRole:
                return style.icon
            if role == Qt.ItemDataRole.ForegroundRole:
                return style.color
            if role == Qt.ItemDataRole.ToolTipRole:
                return style.hint
        elif role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_DATE and b.at is not None:
                return timefmt.full_stamp(b.at)
            if column == COL_MESSAGE:
                return f"Message #{b.message_id} from {b.sender or '<>'}: {b.subject}"
            if column == COL_DIAGNOSTIC:
                return status_style.reply_text(b.code, b.reply)
        return None


class BouncesView(RecordListView[Bounce]):
    """Failed recipients, newest first; selecting one shows its message beside the list."""

    openMessage = Signal(int)  # the user wants to see this message in the queue view

    def __init__(self, queue: Queue, parent: Any = None, clock: Clock | None = None):
        super().__init__(parent)
        self.queue = queue
        self.clock: Clock = clock or SystemClock()
        self._build_list(
            BouncesModel(queue, self.clock, self),
            "bouncesTable",
            key=lambda b: (b.message_id, b.address),
            count_text=lambda n: f"{n:,} failed recipient{'s' if n != 1 else ''}",
            show=self._show,
            after_refresh=self._refreshed,
        )
        self.table.horizontalHeader().setStretchLastSection(True)
        for col, width in enumerate((84, 190, 140, 230, 64)):
            self.table.setColumnWidth(col, width)
        self.table.activated.connect(self._activated)

        self.details = DetailsPane(queue, self.clock)
        self.open_action = QAction(icon("queue"), "Show in queue", self)
        self.open_action.setShortcut(QKeySequence("Ctrl+O"))
        self.open_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.open_action.triggered.connect(self._open_current)
        self.addAction(self.open_action)

        top = QHBoxLayout()
        title = QLabel("Recipients that could not be reached. Each sender got a report.")
        title.setProperty("role", "hint")
        top.addWidget(title, 1)
        top.addWidget(self.count_label)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setSizes([820, 480])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

    def _show(self, record: Bounce | None) -> None:
        self.details.show_message(record.message_id if record is not None else None)

    def _refreshed(self, changed: bool, reselected: bool) -> None:
        self.details.refresh()  # the message shown may have changed state (retried, deleted)

    def _activated(self, index: QModelIndex) -> None:
        b = index.data(RECORD_ROLE)
        if b is not None:
            self.openMessage.emit(b.message_id)

    def _open_current(self) -> None:
        self._activated(self.table.currentIndex())
