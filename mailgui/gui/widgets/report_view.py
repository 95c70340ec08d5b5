"""A report that came back by mail (a late bounce, a complaint, an auto-reply), read-only: what it is, whom it
names and why, then the report itself in the message tabs.

Shared by the Bounces view (its "Show report" window and its unmatched list) and the message details. Everything
in a report is a stranger's text: it goes into plain-text widgets only.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from mailgui.clock import Clock, SystemClock
from mailgui.errors import Error
from mailgui.gui import status_style, timefmt
from mailgui.gui.widgets.message_tabs import MessageTabs, text_of
from mailgui.gui.widgets.plain import plain_label
from mailgui.queue import Queue
from mailgui.queue.late_reports import ReceivedReport

log = logging.getLogger(__name__)


def report_summary(report: ReceivedReport) -> str:
    """Plain text: "Bounce received 2026-05-01 10:03:00 from MAILER-DAEMON ..., about message #12", then one line
    per address it names."""
    about = f"about message #{report.message_id}" if report.message_id is not None else "matched to no message"
    lines = [
        f"{status_style.report_kind_words(report.kind)} #{report.id}, received {timefmt.full_stamp(report.received_at)}"
        f" ({report.source}), {about}",
        f"From: {report.from_header or '(none)'}",
        f"Subject: {report.subject or '(none)'}",
    ]
    for r in report.recipients:
        words = status_style.reason_words(r.reason)
        status = f" {r.status}" if r.status else ""
        applied = "" if r.applied or report.message_id is None else " (not applied: not delivered there)"
        lines.append(f"  {r.address}: {words}{status}{applied}" + (f" — {r.diagnostic}" if r.diagnostic else ""))
    return "\n".join(lines)


class ReportView(QWidget):
    """Shows one report of the queue: call :meth:`show_report` with its id (None for nothing)."""

    def __init__(self, queue: Queue, clock: Clock | None = None, parent: Any = None):
        super().__init__(parent)
        self.queue = queue
        self.clock: Clock = clock or SystemClock()
        self.report_id: int | None = None
        self.summary = plain_label()
        self.summary.setObjectName("reportSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tabs = MessageTabs()
        self.report_text = QPlainTextEdit()
        self.report_text.setObjectName("reportText")
        self.report_text.setReadOnly(True)
        # Added after the message's own tabs: MessageTabs keeps their indexes (a tab put before them would shift
        # which tab it enables and disables).
        self.tabs.addTab(self.report_text, "Report")
        self.tabs.setCurrentWidget(self.report_text)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        self.show_report(None)

    def show_report(self, report_id: int | None) -> None:
        self.report_id = report_id
        if report_id is None:
            self.summary.setText("Select a report to read it.")
            self.report_text.clear()
            self.tabs.clear_message()
            return
        try:
            report = self.queue.get_report(report_id)
            raw = self.queue.report_raw(report_id)
        except Error as exc:
            log.warning("report view: cannot read report %s: %s", report_id, exc)
            self.summary.setText(f"Report #{report_id} could not be read: {exc}")
            self.report_text.clear()
            self.tabs.clear_message()
            return
        self.summary.setText(report_summary(report))
        self.report_text.setPlainText(text_of(raw))
        self.tabs.set_message(raw)


class ReportWindow(QWidget):
    """A report in a window of its own (the Bounces view's "Show report"); Escape closes it."""

    def __init__(self, queue: Queue, clock: Clock | None = None, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("reportWindow")
        self.view = ReportView(queue, clock)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        hint = QLabel("Read-only: the report as it was received. Esc closes this window.")
        hint.setProperty("role", "hint")
        hint.setContentsMargins(6, 0, 6, 4)
        layout.addWidget(hint)
        self.resize(720, 520)

    def show_report(self, report_id: int) -> None:
        self.view.show_report(report_id)
        self.setWindowTitle(f"Report #{report_id} — mailgui")
        if self.isVisible():
            self.raise_()  # already open behind the main window: bring it forward (a new window opens on top)
        self.show()
        self.activateWindow()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)
