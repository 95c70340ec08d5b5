"""The Suppressions view: addresses mail is no longer sent to (a hard bounce, a complaint, soft bounces piling
up, or added by hand); search them, lift one or many (after a question), add one by hand, export them as CSV."""

from __future__ import annotations

import csv
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mailgui.addresses import header_text_problem, invalid_email_reason
from mailgui.clock import Clock, SystemClock
from mailgui.errors import Error
from mailgui.gui import timefmt
from mailgui.gui.lists.paged_model import PagedTableModel
from mailgui.gui.lists.record_list import RecordListView
from mailgui.gui.resources import icon
from mailgui.gui.widgets.confirm import open_confirm
from mailgui.gui.widgets.plain import plain_label
from mailgui.queue import Queue, Suppression

log = logging.getLogger(__name__)

(COL_ADDRESS, COL_SOURCE, COL_SINCE, COL_REASON) = range(4)
SOURCES = {"bounce": "Bounce", "complaint": "Complaint", "user": "Added by hand"}
CSV_HEADER = ("address", "reason", "source", "added_at", "message_id")
NO_SUPPRESSIONS = "No suppressed addresses. Hard bounces and complaints put an address here."


class SuppressionsModel(PagedTableModel[Suppression]):
    COLUMNS = ("Address", "Source", "Since", "Reason")  # the reason last: it takes what width is left

    def __init__(self, queue: Queue, clock: Clock | None = None, parent: Any = None):
        self.search = ""  # before the first read, which the base class makes
        super().__init__(queue, clock, parent)

    def _all(self) -> list[Suppression]:
        return self.queue.list_suppressions(self.search)

    def count(self) -> int:
        return len(self._all())

    def read(self, offset: int, limit: int) -> list[Suppression]:
        # The queue lists them whole (sorted, filtered in SQL); a list of dead addresses stays short.
        return self._all()[offset : offset + limit]

    # No signature: telling whether one changed would read them all, which is what a refresh does anyway.

    def cell(self, s: Suppression, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if column == COL_ADDRESS:
                return s.address
            if column == COL_REASON:
                return s.reason
            if column == COL_SOURCE:
                return SOURCES.get(s.source, s.source)
            if column == COL_SINCE:
                return timefmt.stamp(s.added_at, self.clock.now())
        elif role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_REASON:
                return s.reason
            if column == COL_SOURCE and s.message_id is not None:
                return f"Caused by a report about message #{s.message_id}"
            if column == COL_SINCE:
                return timefmt.full_stamp(s.added_at)
        return None


def write_csv(path: Path, suppressions: list[Suppression]) -> None:
    """One row per address (UTF-8, a header row); raises OSError if the file cannot be written."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADER)
        for s in suppressions:
            added = datetime.fromtimestamp(s.added_at).astimezone().isoformat(timespec="seconds")
            writer.writerow((s.address, s.reason, s.source, added, "" if s.message_id is None else s.message_id))


class SuppressionsView(RecordListView[Suppression]):
    """Suppressed addresses, newest first. Select several (Shift/Ctrl) to lift them together."""

    READ_ERROR = "The suppression list could not be read"
    changed = Signal()  # the list was changed here (lifted, added)

    def __init__(self, queue: Queue, parent: QWidget | None = None, clock: Clock | None = None):
        super().__init__(parent)
        self.setObjectName("suppressionsView")
        self.queue = queue
        self.clock: Clock = clock or SystemClock()
        self.suppressions = SuppressionsModel(queue, self.clock, self)
        self._build_list(
            self.suppressions,
            "suppressionsTable",
            key=lambda s: s.address.lower(),
            count_text=self._count_text,
            after_refresh=self._refreshed,
        )
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.horizontalHeader().setStretchLastSection(True)
        for col, width in enumerate((240, 110, 90)):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self._confirm: QMessageBox | None = None
        self._export: QFileDialog | None = None

        self.search = QLineEdit()
        self.search.setObjectName("suppressionsSearch")
        self.search.setPlaceholderText("Search addresses (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._search_changed)
        QShortcut(QKeySequence.StandardKey.Find, self, self.search.setFocus)

        self.lift_button = QPushButton(icon("remove"), "Lift…")
        self.lift_button.setObjectName("liftButton")
        self.lift_button.setToolTip("Send to the selected addresses again (Delete)")
        self.lift_button.clicked.connect(self.ask_lift)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setObjectName("exportButton")
        self.export_button.setToolTip("Save the addresses listed (as searched) to a CSV file (Ctrl+Shift+E)")
        self.export_button.clicked.connect(self.ask_export)
        QShortcut(QKeySequence("Ctrl+Shift+E"), self, self.ask_export)
        QShortcut(QKeySequence.StandardKey.Delete, self.table, self.ask_lift)

        self.new_address = QLineEdit()
        self.new_address.setObjectName("newSuppression")
        self.new_address.setPlaceholderText("Address to suppress")
        self.new_address.returnPressed.connect(self.add_by_hand)
        self.new_reason = QLineEdit()
        self.new_reason.setObjectName("newSuppressionReason")
        self.new_reason.setPlaceholderText("Reason (optional)")
        self.new_reason.returnPressed.connect(self.add_by_hand)
        self.add_button = QPushButton(icon("add"), "Suppress")
        self.add_button.setObjectName("addSuppressionButton")
        self.add_button.setToolTip("Stop sending to this address (Return)")
        self.add_button.clicked.connect(self.add_by_hand)
        self.message = plain_label()  # what the last action did, or why it could not (an address the user typed)
        self.message.setObjectName("suppressionsMessage")
        self.message.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.count_label)
        add_row = QHBoxLayout()
        add_row.addWidget(QLabel("Add:"))
        add_row.addWidget(self.new_address, 2)
        add_row.addWidget(self.new_reason, 2)
        add_row.addWidget(self.add_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.lift_button)
        buttons.addWidget(self.export_button)
        hint = QLabel("Mail to these addresses is not sent; the sender gets a report naming the suppression.")
        hint.setProperty("role", "hint")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(hint)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addLayout(add_row)
        self._update_buttons()

    # -- the list ------------------------------------------------------------------------------------------
    def _count_text(self, n: int) -> str:
        if n == 0:
            return "No match" if self.suppressions.search else NO_SUPPRESSIONS
        return f"{n:,} suppressed address{'es' if n != 1 else ''}"

    def _search_changed(self, text: str) -> None:
        self.suppressions.search = text.strip()
        self.refresh()

    def _refreshed(self, changed: bool, reselected: bool) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.lift_button.setEnabled(bool(self.selected()))
        self.export_button.setEnabled(self.model.rowCount() > 0)

    def selected(self) -> list[Suppression]:
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        found = [self.model.record(r) for r in rows]
        return [s for s in found if s is not None]

    # -- lift ----------------------------------------------------------------------------------------------
    def ask_lift(self) -> None:
        chosen = self.selected()
        if not chosen:
            return
        addresses = [s.address for s in chosen]
        shown = "\n".join(addresses[:10]) + (f"\n… and {len(addresses) - 10} more" if len(addresses) > 10 else "")
        what = addresses[0] if len(addresses) == 1 else f"{len(addresses)} addresses"
        self._confirm = open_confirm(
            self,
            "Lift suppression",
            f"Send to {what} again?",
            f"Later mail to these addresses will be sent. If they still bounce they will be suppressed again.\n\n"
            f"{shown}",
            "Lift",
            lambda result: self._lift_answered(result, addresses),
        )
        self._confirm.setTextFormat(Qt.TextFormat.PlainText)  # addresses are the strangers' text

    def _lift_answered(self, result: int, addresses: list[str]) -> None:
        self._confirm = None
        if result != QMessageBox.StandardButton.Yes:
            return
        try:
            lifted = self.queue.remove_suppressions(addresses)
        except Error as exc:
            log.error("suppressions: lifting %d failed: %s", len(addresses), exc)
            self.message.setText(f"Could not lift: {exc}")
            return
        self.message.setText(f"Lifted {lifted} suppression{'s' if lifted != 1 else ''}.")
        self.refresh()
        self.changed.emit()

    # -- add -----------------------------------------------------------------------------------------------
    def add_by_hand(self) -> None:
        address = self.new_address.text().strip()
        reason = self.new_reason.text().strip() or "added by hand"
        problem = invalid_email_reason(address, "address") or header_text_problem(reason, "reason")
        if problem:
            self.message.setText(problem)
            self.new_address.setFocus()
            return
        try:
            added = self.queue.add_suppression(address, reason)
        except Error as exc:
            log.error("suppressions: adding %s failed: %s", address, exc)
            self.message.setText(f"Could not suppress {address}: {exc}")
            return
        self.message.setText(f"{address} is suppressed." if added else f"{address} was already suppressed.")
        self.new_address.clear()
        self.new_reason.clear()
        self.refresh()
        self.changed.emit()

    # -- export --------------------------------------------------------------------------------------------
    def ask_export(self) -> None:
        if self.model.rowCount() == 0:
            return
        dialog = QFileDialog(self, "Export suppressed addresses")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("CSV files (*.csv)")
        dialog.setDefaultSuffix("csv")
        dialog.selectFile("suppressions.csv")
        dialog.fileSelected.connect(self.export_to)
        dialog.finished.connect(lambda _result: self._export_closed())
        self._export = dialog
        dialog.open()  # never exec(): no nested event loop (STYLE.md)

    def _export_closed(self) -> None:
        if self._export is not None:
            self._export.deleteLater()
            self._export = None

    def export_to(self, path: str) -> None:
        try:
            rows = self.queue.list_suppressions(self.suppressions.search)
            write_csv(Path(path), rows)
        except (OSError, Error) as exc:
            log.warning("suppressions: export to %s failed: %s", path, exc)
            self.message.setText(f"Could not export to {path}: {exc}")
            return
        self.message.setText(f"Exported {len(rows)} address{'es' if len(rows) != 1 else ''} to {path}.")
