"""Authorized senders: the list the Mail API, the command line and the compose window all check."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mailgui.addresses import normalize_sender_pattern
from mailgui.errors import Error
from mailgui.gui.resources import icon
from mailgui.queue import Queue


class SendersEditor(QGroupBox):
    """List, add (exact address or @domain, validated and normalized), remove (after a confirmation)."""

    changed = Signal()

    def __init__(self, queue: Queue, parent: QWidget | None = None):
        super().__init__("Authorized senders", parent)
        self.queue = queue
        self._pending_removal: str | None = None
        self.list = QListWidget()
        self.list.setObjectName("senderList")
        self.list.setMaximumHeight(96)
        self.new_edit = QLineEdit()
        self.new_edit.setObjectName("newSenderEdit")
        self.new_edit.setPlaceholderText("ann@example.com, or @example.com for a whole domain")
        self.new_edit.returnPressed.connect(self.add)
        add = QPushButton(icon("add"), "Add")
        add.setObjectName("addSenderButton")
        add.clicked.connect(self.add)
        self.remove_button = QPushButton(icon("remove"), "Remove…")
        self.remove_button.setObjectName("removeSenderButton")
        self.remove_button.setEnabled(False)
        self.remove_button.clicked.connect(self.ask_remove)
        self.list.itemSelectionChanged.connect(lambda: self.remove_button.setEnabled(bool(self.list.selectedItems())))
        self.error = QLabel()
        self.error.setObjectName("senderError")
        self.error.setProperty("role", "fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        self.remove_bar = QFrame()
        self.remove_bar.setObjectName("confirmBar")
        bar = QHBoxLayout(self.remove_bar)
        bar.setContentsMargins(8, 4, 8, 4)
        self.remove_text = QLabel()
        self.remove_text.setObjectName("removeText")
        self.remove_yes = QPushButton("Remove")
        self.remove_yes.setObjectName("removeYes")
        self.remove_yes.clicked.connect(self.confirm_remove)
        remove_no = QPushButton("Keep")
        remove_no.clicked.connect(self.remove_bar.hide)
        bar.addWidget(self.remove_text, 1)
        bar.addWidget(self.remove_yes)
        bar.addWidget(remove_no)
        self.remove_bar.hide()

        row = QHBoxLayout()
        row.addWidget(self.new_edit, 1)
        row.addWidget(add)
        row.addWidget(self.remove_button)
        col = QVBoxLayout(self)
        hint = QLabel("Only these addresses may send, from this window, scripts and the command line alike.")
        hint.setProperty("role", "hint")
        col.addWidget(hint)
        col.addWidget(self.list)
        col.addLayout(row)
        col.addWidget(self.error)
        col.addWidget(self.remove_bar)
        self.load()

    def load(self) -> None:
        self.list.clear()
        self.list.addItems(self.queue.list_senders())

    def add(self) -> bool:
        text = self.new_edit.text()
        self.show_error(None)
        try:
            pattern = normalize_sender_pattern(text)
        except Error as exc:
            self.show_error(str(exc))
            return False
        if not self.queue.add_sender(pattern):
            self.show_error(f"sender: {pattern} is already authorized")
            return False
        self.new_edit.clear()
        self.load()
        self.changed.emit()
        return True

    def ask_remove(self) -> None:
        items = self.list.selectedItems()
        if not items:
            return
        self._pending_removal = items[0].text()
        self.remove_text.setText(
            f"Remove {self._pending_removal}? Mail from it will be refused from then on "
            "(messages already queued still go out)."
        )
        self.remove_bar.show()
        self.remove_yes.setFocus()

    def confirm_remove(self) -> None:
        self.remove_bar.hide()
        if self._pending_removal is not None:
            self.queue.remove_sender(self._pending_removal)
            self._pending_removal = None
            self.load()
            self.changed.emit()

    def show_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))
