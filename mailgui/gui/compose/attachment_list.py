"""The compose window's attachments: add (button or drag and drop), remove, sizes shown, blocked types refused."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mailgui.attachments import attachment_name
from mailgui.errors import InvalidAttachmentTypeError, InvalidHeaderValueError
from mailgui.gui.resources import icon

log = logging.getLogger(__name__)

# Most relays refuse messages over 25 MB; base64 makes attachments a third bigger on the wire.
MAX_TOTAL_BYTES = 18 * 1024 * 1024


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def local_files(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]


class AttachmentList(QWidget):
    """A list of (file name, bytes); refuses blocked types and oversize totals with the reason under the list."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.items: list[tuple[str, bytes]] = []
        self.list = QListWidget(self)
        self.list.setObjectName("attachmentList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setMaximumHeight(90)
        self.list.setAcceptDrops(True)
        self.list.viewport().setAcceptDrops(True)
        self.list.viewport().installEventFilter(self)
        self.list.setToolTip("Drop files here to attach them")
        self.add_button = QPushButton(icon("attach"), "Attach…", self)
        self.add_button.setToolTip("Attach files (Ctrl+Shift+A); or drop files on the window")
        self.remove_button = QPushButton(icon("remove"), "Remove", self)
        self.remove_button.setToolTip("Remove the selected attachments (Delete)")
        self.remove_button.setEnabled(False)
        self.total = QLabel(self)
        self.total.setProperty("role", "hint")
        self.error = QLabel(self)
        self.error.setObjectName("attachmentsError")
        self.error.setProperty("role", "fieldError")
        self.error.setWordWrap(True)
        self.error.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(self.total)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.error)

        self.add_button.clicked.connect(self.choose_files)
        self.remove_button.clicked.connect(self.remove_selected)
        self.list.itemSelectionChanged.connect(lambda: self.remove_button.setEnabled(bool(self.list.selectedItems())))
        QShortcut(QKeySequence.StandardKey.Delete, self.list, self.remove_selected)
        self._dialog: QFileDialog | None = None
        self._refresh()

    # -- adding -----------------------------------------------------------------------------------------
    def choose_files(self) -> None:
        """A non-modal file dialog (open(), never exec(): no nested event loop under qasync)."""
        if self._dialog is None:
            self._dialog = QFileDialog(self.window(), "Attach files")
            self._dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
            self._dialog.filesSelected.connect(lambda names: self.add_paths([Path(n) for n in names]))
        self._dialog.open()

    def add_paths(self, paths: list[Path]) -> list[str]:
        """Read and attach files; returns the reasons for any refused (also shown under the list)."""
        refused: list[str] = []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                refused.append(f"attachments: cannot read {path.name}: {exc.strerror or exc}")
                continue
            reason = self.add(path.name, data, show=False)
            if reason:
                refused.append(reason)
        self.show_error("\n".join(refused) or None)
        return refused

    def add(self, filename: str, data: bytes, *, show: bool = True) -> str | None:
        try:
            filename = attachment_name(filename)  # the name it goes out under
        except (InvalidAttachmentTypeError, InvalidHeaderValueError) as exc:
            reason: str | None = str(exc)
        else:
            total = sum(len(d) for _, d in self.items) + len(data)
            if total > MAX_TOTAL_BYTES:
                reason = (
                    f"attachments: {filename!r} would make the attachments {human_size(total)}, over the "
                    f"{human_size(MAX_TOTAL_BYTES)} most mail servers accept"
                )
            else:
                reason = None
                self.items.append((filename, data))
                self._refresh()
                self.changed.emit()
        if show:
            self.show_error(reason)
        return reason

    def set_items(self, items: list[tuple[str, bytes]]) -> None:
        self.items = list(items)
        self._refresh()

    def remove_selected(self) -> None:
        rows = sorted((self.list.row(i) for i in self.list.selectedItems()), reverse=True)
        if not rows:
            return
        for row in rows:
            del self.items[row]
        self._refresh()
        self.show_error(None)
        self.changed.emit()

    # -- display ----------------------------------------------------------------------------------------
    def _refresh(self) -> None:
        self.list.clear()
        for name, data in self.items:
            item = QListWidgetItem(icon("attach"), f"{name}  ({human_size(len(data))})")
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.list.addItem(item)
        total = sum(len(d) for _, d in self.items)
        self.total.setText(
            f"{len(self.items)} file{'s' if len(self.items) != 1 else ''}, {human_size(total)}"
            if self.items
            else "No attachments (drop files here)"
        )

    def show_error(self, reason: str | None) -> None:
        self.error.setText(reason or "")
        self.error.setVisible(bool(reason))

    # -- drag and drop on the list (the window forwards drops elsewhere to accept_drop) ---------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDragEnterEvent | QDropEvent)
            if local_files(event):
                event.acceptProposedAction()
                return True
        elif event.type() == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            return self.accept_drop(event)
        return super().eventFilter(obj, event)

    def accept_drop(self, event: QDropEvent) -> bool:
        files = local_files(event)
        if not files:
            return False
        event.acceptProposedAction()
        self.add_paths(files)
        return True
