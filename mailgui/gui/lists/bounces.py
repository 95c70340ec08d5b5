"""The Bounces view: every recipient that failed for good, refused during delivery or reported later by mail, why
(the reason class in words), when, the report itself a click away, and the message it belongs to; a second tab
lists the reports that matched no message."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mailgui.clock import Clock, SystemClock
from mailgui.gui import status_style, timefmt
from mailgui.gui.lists.paged_model import RECORD_ROLE, PagedTableModel
from mailgui.gui.lists.record_list import RecordListView
from mailgui.gui.lists.unmatched_reports import UnmatchedReportsView
from mailgui.gui.resources import icon
from mailgui.gui.widgets.details import DetailsPane
from mailgui.gui.widgets.report_view import ReportWindow
from mailgui.queue import Bounce, Queue

(COL_STATE, COL_RECIPIENT, COL_REASON, COL_SOURCE, COL_DIAGNOSTIC, COL_DATE, COL_MESSAGE) = range(7)
DURING_DELIVERY = "During delivery"
REPORT_RECEIVED = "Report received"
SHOW_REPORT_KEYS = "Ctrl+Shift+R"


def source_text(b: Bounce, now: float) -> str:
    """Where the bounce came from: the relay's answer during delivery, or a report received later by mail."""
    if b.report_id is None:
        return DURING_DELIVERY
    return REPORT_RECEIVED if b.at is None else f"{REPORT_RECEIVED} {timefmt.stamp(b.at, now)}"


class BouncesModel(PagedTableModel[Bounce]):
    COLUMNS = ("State", "Recipient", "Reason", "Source", "Diagnostic", "Date", "Message")

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
                return status_style.reason_words(status_style.bounce_class(b.status, b.code, b.reply, b.reason))
            if column == COL_SOURCE:
                return source_text(b, self.clock.now())
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
            if column == COL_REASON:
                return status_style.failure_reason(b.status, b.code, b.reply)
            if column == COL_SOURCE:
                if b.report_id is None:
                    return "The relay refused it while mailgui was sending"
                when = f" on {timefmt.full_stamp(b.at)}" if b.at is not None else ""
                return f"The relay took it; report #{b.report_id} came back by mail{when} ({SHOW_REPORT_KEYS} shows it)"
        return None


class BouncesView(RecordListView[Bounce]):
    """Failed recipients, newest first; selecting one shows its message beside the list. A second tab lists the
    reports that matched no message (:class:`UnmatchedReportsView`)."""

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
        for col, width in enumerate((84, 190, 120, 150, 230, 64)):
            self.table.setColumnWidth(col, width)
        self.table.activated.connect(self._activated)
        self.report_window: ReportWindow | None = None

        self.details = DetailsPane(queue, self.clock)
        self.open_action = QAction(icon("queue"), "Show in queue", self)
        self.open_action.setShortcut(QKeySequence("Ctrl+O"))
        self.open_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.open_action.triggered.connect(self._open_current)
        self.addAction(self.open_action)
        self.report_action = QAction(icon("bounces"), "Show report", self)
        self.report_action.setShortcut(QKeySequence(SHOW_REPORT_KEYS))
        self.report_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.report_action.setToolTip(f"Read the report this bounce came back in ({SHOW_REPORT_KEYS})")
        self.report_action.setEnabled(False)
        self.report_action.triggered.connect(self.show_report)
        self.addAction(self.report_action)
        self.report_button = QPushButton(icon("bounces"), "Show report…")
        self.report_button.setObjectName("showReportButton")
        self.report_button.setToolTip(self.report_action.toolTip())
        self.report_button.setEnabled(False)
        self.report_button.clicked.connect(self.show_report)

        top = QHBoxLayout()
        title = QLabel("Recipients that could not be reached, during delivery or reported later by mail.")
        title.setProperty("role", "hint")
        title.setWordWrap(True)
        top.addWidget(title, 1)
        top.addWidget(self.count_label)
        top.addWidget(self.report_button)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setSizes([820, 480])
        failed_page = QWidget()
        failed_layout = QVBoxLayout(failed_page)
        failed_layout.setContentsMargins(0, 6, 0, 0)
        failed_layout.addLayout(top)
        failed_layout.addWidget(splitter, 1)

        self.unmatched = UnmatchedReportsView(queue, clock=self.clock)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("bouncesTabs")
        self.tabs.setDocumentMode(True)
        self.failed_index = self.tabs.addTab(failed_page, "Failed recipients")
        self.unmatched_index = self.tabs.addTab(self.unmatched, "Unmatched reports")
        self.tabs.setTabToolTip(self.unmatched_index, "Reports that matched no message of this queue (Ctrl+Tab)")
        self._update_unmatched_title()
        self.unmatched.model.modelReset.connect(self._update_unmatched_title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.tabs, 1)

    def refresh(self) -> None:
        super().refresh()
        self.unmatched.refresh()

    def show_unmatched(self) -> None:
        self.tabs.setCurrentIndex(self.unmatched_index)

    def _update_unmatched_title(self) -> None:
        n = self.unmatched.model.rowCount()
        self.tabs.setTabText(self.unmatched_index, f"Unmatched reports ({n:,})" if n else "Unmatched reports")

    def _show(self, record: Bounce | None) -> None:
        self.details.show_message(record.message_id if record is not None else None)
        has_report = record is not None and record.report_id is not None
        self.report_action.setEnabled(has_report)
        self.report_button.setEnabled(has_report)

    def show_report(self) -> None:
        """The report the bounce under the cursor came back in, read-only, in a window of its own."""
        b = self.table.currentIndex().data(RECORD_ROLE)
        if b is None or b.report_id is None:
            return
        if self.report_window is None:
            self.report_window = ReportWindow(self.queue, self.clock, self)
        self.report_window.show_report(b.report_id)

    def _refreshed(self, changed: bool, reselected: bool) -> None:
        self.details.refresh()  # the message shown may have changed state (retried, deleted)

    def _activated(self, index: QModelIndex) -> None:
        b = index.data(RECORD_ROLE)
        if b is not None:
            self.openMessage.emit(b.message_id)

    def _open_current(self) -> None:
        self._activated(self.table.currentIndex())
