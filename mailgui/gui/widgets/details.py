"""The details pane beside the queue table: one message's recipients, attempts, content and bounce report."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mailgui.clock import Clock, SystemClock
from mailgui.errors import Error, UnknownMessageError
from mailgui.gui import status_style, timefmt
from mailgui.gui.resources import RESOURCES_DIR
from mailgui.gui.widgets.message_tabs import MessageTabs, SafeTextBrowser, parse, text_of
from mailgui.gui.widgets.plain import plain_label, plain_tooltip
from mailgui.gui.widgets.report_view import ReportView
from mailgui.queue import MessageDetail, Queue

log = logging.getLogger(__name__)

__all__ = ["DetailsPane", "MessageTabs", "SafeTextBrowser", "parse"]


def _tree(headers: list[str]) -> QTreeWidget:
    tree = QTreeWidget()
    tree.setHeaderLabels(headers)
    tree.setRootIsDecorated(False)
    tree.setUniformRowHeights(True)
    tree.setAlternatingRowColors(True)
    tree.header().setStretchLastSection(True)
    tree.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    # A stretched last column may shrink with a narrow pane: Qt keeps it at least as wide as before it stretched.
    tree.header().setMinimumSectionSize(40)
    tree.setColumnWidth(len(headers) - 1, 40)
    return tree


def _section(title: str, body: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 4, 0, 0)
    layout.setSpacing(2)
    label = QLabel(title)
    label.setProperty("role", "sectionTitle")
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    layout.addWidget(label)
    layout.addWidget(body)
    return box


class DetailsPane(QWidget):
    """Shows one message of the queue: call :meth:`show_message` with its id (None for nothing)."""

    def __init__(self, queue: Queue, clock: Clock | None = None, parent: Any = None):
        super().__init__(parent)
        self.queue = queue
        self.clock: Clock = clock or SystemClock()
        self.message_id: int | None = None
        self.detail: MessageDetail | None = None

        self.title = plain_label()  # a subject: the sender's text
        self.title.setObjectName("detailsTitle")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.title.setFont(font)
        self.state_label = QLabel()
        self.state_label.setObjectName("detailsState")
        self.facts = plain_label()  # holds the From header
        self.facts.setWordWrap(True)
        self.facts.setProperty("role", "hint")
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.recipients = _tree(["Recipient", "Kind", "State", "Reply"])
        self.attempts = _tree(["When", "Took", "Result", "Relay"])
        self.attempts.setRootIsDecorated(True)
        self.tabs = MessageTabs()
        # A child from the start, hidden until its tab is added: a widget without a parent is a window of its own,
        # which Qt never deletes and which lives on after the view as long as Python holds it.
        self.report_view = QPlainTextEdit(self)
        self.report_view.setReadOnly(True)
        self.report_view.hide()
        self.report_index = -1
        # Reports that came back by mail about a recipient (a late bounce): a tab like the bounce report's.
        self.late_view = ReportView(queue, self.clock, self)
        self.late_view.setObjectName("lateBounceReport")
        self.late_view.hide()
        self.late_index = -1

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(_section("Recipients", self.recipients))
        splitter.addWidget(_section("Delivery attempts", self.attempts))
        splitter.addWidget(self.tabs)
        for tree in (self.recipients, self.attempts):
            tree.setMinimumHeight(96)  # a few rows and the header, however short the window
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 2)
        splitter.setStretchFactor(2, 3)
        self.splitter = splitter

        self.placeholder = QLabel("Select a message to see its recipients, delivery attempts and content.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setProperty("role", "hint")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.state_label)
        layout.addWidget(self.facts)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.placeholder, 1)
        self._set_empty("Select a message to see its recipients, delivery attempts and content.")

    # -- public --------------------------------------------------------------------------------------------
    def show_message(self, message_id: int | None) -> None:
        self.message_id = message_id
        self.refresh()

    def refresh(self) -> None:
        """Read the shown message again (its state or attempts may have changed)."""
        if self.message_id is None:
            self._set_empty("Select a message to see its recipients, delivery attempts and content.")
            return
        try:
            detail = self.queue.get_message(self.message_id)
        except UnknownMessageError:
            self._set_empty(f"Message #{self.message_id} is no longer in the queue.")
            return
        except Error as exc:
            log.warning("details: cannot read message %s: %s", self.message_id, exc)
            self._set_empty(str(exc))
            return
        if detail == self.detail:
            return  # unchanged: do not redraw (this runs on every live update while a message is shown)
        same_message = self.detail is not None and self.detail.summary.id == detail.summary.id
        raw_changed = not same_message or self.detail is None or self.detail.raw != detail.raw
        self.detail = detail
        self._show(detail, reload_content=raw_changed)

    # -- drawing -------------------------------------------------------------------------------------------
    def _set_empty(self, text: str) -> None:
        self.detail = None
        for w in (self.title, self.state_label, self.facts, self.splitter):
            w.hide()
        self.placeholder.setText(text)
        self.placeholder.show()
        self.tabs.clear_message()
        self._set_report(None)
        self._set_late_report(None)

    def _show(self, d: MessageDetail, reload_content: bool) -> None:
        s = d.summary
        self.placeholder.hide()
        for w in (self.title, self.state_label, self.facts, self.splitter):
            w.show()
        self.title.setText(s.subject or "(no subject)")
        style = status_style.message_state(s.status)
        icon_html = f'<img src="{_icon_file(style.icon_name)}" width="16" height="16" style="vertical-align:middle">'
        self.state_label.setText(
            f'{icon_html} <span style="color:{style.colour}; font-weight:bold">{style.word}</span>'
            f' <span style="color:#546e7a">— {style.hint}</span>'
        )
        now = self.clock.now()
        facts = [
            f"#{s.id}",
            f"From {s.from_header}",
            f"created {timefmt.full_stamp(s.created_at)}",
            f"{s.attempts} attempt{'s' if s.attempts != 1 else ''}",
        ]
        if s.status in ("queued", "deferred") and s.next_attempt_at is not None:
            facts.append(f"next attempt {timefmt.relative(s.next_attempt_at, now)}")
            facts.append(f"gives up {timefmt.relative(s.expires_at, now)}")
        if s.kind == "report":
            facts.append(f"delivery report about #{s.parent_id}" if s.parent_id else "delivery report")
        self.facts.setText(" · ".join(facts))

        self.recipients.clear()
        for r in s.recipients:
            rs = status_style.recipient_state(r.status)
            reply = status_style.reply_text(r.code, r.reply)
            if r.report_id is not None:
                reply = f"Reported later (report #{r.report_id}): {reply}"
            item = QTreeWidgetItem([r.address, r.kind, rs.word, reply])
            item.setIcon(2, rs.icon)
            item.setForeground(2, rs.color)
            item.setToolTip(2, rs.hint)
            item.setToolTip(3, plain_tooltip(item.text(3)))
            self.recipients.addTopLevelItem(item)
        self.recipients.resizeColumnToContents(0)
        self.recipients.setColumnWidth(0, min(self.recipients.columnWidth(0), 160))  # leave room for the reply
        self.recipients.setColumnWidth(1, 40)
        self.recipients.setColumnWidth(2, 86)

        self.attempts.clear()
        if not d.attempts:
            self.attempts.addTopLevelItem(QTreeWidgetItem(["No attempts yet", "", "", ""]))
        for a in reversed(d.attempts):  # newest first, like the table
            delivered = sum(1 for r in a.results if r.status == "delivered")
            summary = a.error or f"{delivered} of {len(a.results)} delivered"
            item = QTreeWidgetItem([timefmt.full_stamp(a.started_at), f"{a.duration:.1f} s", summary, a.relay])
            item.setToolTip(2, plain_tooltip(summary))
            item.setToolTip(3, plain_tooltip(a.relay))
            for r in a.results:
                rs = status_style.recipient_state(r.status)
                word = "Will retry" if r.status == "pending" else rs.word
                reply = status_style.reply_text(r.code, r.reply)
                child = QTreeWidgetItem([r.address, "", f"{word}: {reply}" if reply else word, ""])
                child.setIcon(2, rs.icon)
                child.setForeground(2, rs.color)
                child.setToolTip(2, plain_tooltip(child.text(2)))
                item.addChild(child)
            self.attempts.addTopLevelItem(item)
        self.attempts.expandToDepth(0)
        for col in range(2):
            self.attempts.resizeColumnToContents(col)
        self.attempts.setColumnWidth(0, min(self.attempts.columnWidth(0), 165))
        self.attempts.setColumnWidth(2, 140)  # the reply is in the tooltip; the relay stays in view

        if reload_content:
            self.tabs.set_message(d.raw)
        self._set_report(d)
        self._set_late_report(d)

    def _set_late_report(self, d: MessageDetail | None) -> None:
        """The report a recipient's late bounce came in (the newest, if several recipients bounced later)."""
        ids = sorted({r.report_id for r in d.summary.recipients if r.report_id is not None}) if d else []
        if not ids:
            if self.late_index >= 0:
                self.tabs.removeTab(self.tabs.indexOf(self.late_view))
                self.late_index = -1
            return
        if self.late_view.report_id != ids[-1]:
            self.late_view.show_report(ids[-1])
        if self.late_index < 0:
            self.late_index = self.tabs.addTab(self.late_view, "Late bounce")
        more = f" (and {len(ids) - 1} more: see the Bounces view)" if len(ids) > 1 else ""
        self.tabs.setTabToolTip(self.tabs.indexOf(self.late_view), f"Report #{ids[-1]} received by mail{more}")

    def _set_report(self, d: MessageDetail | None) -> None:
        report_ids = d.report_ids if d is not None else ()
        if not report_ids:
            if self.report_index >= 0:
                self.tabs.removeTab(self.tabs.indexOf(self.report_view))
                self.report_index = -1
            return
        parts = []
        for rid in report_ids:
            try:
                report = self.queue.get_message(rid)
            except UnknownMessageError:
                continue
            rs = report.summary
            to = ", ".join(r.address for r in rs.recipients)
            state = status_style.message_state(rs.status).word
            parts.append(
                f"Report #{rid} to {to} — {state}, created {timefmt.full_stamp(rs.created_at)}\n"
                f"Subject: {rs.subject}\n\n{text_of(report.raw)}"
            )
        self.report_view.setPlainText(("\n\n" + "═" * 40 + "\n\n").join(parts))
        if self.report_index < 0:
            self.report_index = self.tabs.addTab(self.report_view, "Bounce report")


def _icon_file(name: str) -> str:
    return str(RESOURCES_DIR / "icons" / f"{name}.svg")
