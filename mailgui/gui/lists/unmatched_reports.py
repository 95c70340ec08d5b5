"""Reports received by mail that match no message of this queue (the Bounces view's second tab): kept, never
dropped, each readable beside the list."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from mailgui.clock import Clock, SystemClock
from mailgui.gui import status_style, timefmt
from mailgui.gui.lists.paged_model import PagedTableModel
from mailgui.gui.lists.record_list import RecordListView
from mailgui.gui.widgets.report_view import ReportView
from mailgui.queue import Queue, ReceivedReport

(COL_KIND, COL_RECEIVED, COL_ADDRESSES, COL_FROM, COL_SUBJECT) = range(5)


class UnmatchedReportsModel(PagedTableModel[ReceivedReport]):
    COLUMNS = ("Kind", "Received", "Addresses", "From", "Subject")

    def count(self) -> int:
        return self.queue.count_reports(unmatched=True)

    def read(self, offset: int, limit: int) -> list[ReceivedReport]:
        return self.queue.list_reports(unmatched=True, limit=limit, offset=offset)

    def signature(self) -> object:
        newest = self.queue.list_reports(unmatched=True, limit=1)
        return (self.queue.count_reports(unmatched=True), newest[0].id if newest else 0)

    def cell(self, r: ReceivedReport, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if column == COL_KIND:
                return status_style.report_kind_words(r.kind)
            if column == COL_RECEIVED:
                return timefmt.stamp(r.received_at, self.clock.now())
            if column == COL_ADDRESSES:
                return ", ".join(x.address for x in r.recipients) or "(none found)"
            if column == COL_FROM:
                return r.from_header
            if column == COL_SUBJECT:
                return r.subject or "(no subject)"
        elif role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_RECEIVED:
                return timefmt.full_stamp(r.received_at)
            if column == COL_ADDRESSES:
                return "\n".join(f"{x.address}: {status_style.reason_words(x.reason)}" for x in r.recipients)
            if column in (COL_FROM, COL_SUBJECT):
                return r.from_header if column == COL_FROM else r.subject
        return None


class UnmatchedReportsView(RecordListView[ReceivedReport]):
    """Reports about no message of this queue, newest first; the selected one is shown beside the list."""

    READ_ERROR = "The reports could not be read"

    def __init__(self, queue: Queue, parent: QWidget | None = None, clock: Clock | None = None):
        super().__init__(parent)
        self.setObjectName("unmatchedReportsView")
        self.queue = queue
        self.clock: Clock = clock or SystemClock()
        self.report = ReportView(queue, self.clock)
        self._build_list(
            UnmatchedReportsModel(queue, self.clock, self),
            "unmatchedReportsTable",
            key=lambda r: r.id,
            count_text=lambda n: f"{n:,} unmatched report{'s' if n != 1 else ''}",
            show=lambda r: self.report.show_report(None if r is None else r.id),
        )
        self.table.horizontalHeader().setStretchLastSection(True)
        for col, width in enumerate((96, 64, 200, 180)):
            self.table.setColumnWidth(col, width)
        top = QHBoxLayout()
        title = QLabel("Reports that came back by mail about no message of this queue (sent elsewhere, or deleted).")
        title.setProperty("role", "hint")
        title.setWordWrap(True)
        top.addWidget(title, 1)
        top.addWidget(self.count_label)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.table)
        splitter.addWidget(self.report)
        splitter.setSizes([700, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
