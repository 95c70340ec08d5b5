"""The bar that asks before sending what the checks found (an empty subject, a forgotten attachment, many open
recipients): send anyway, go back, or let the window fix it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from mailgui.gui.compose.checks import PreSendCheck


class PreSendQuestion(QFrame):
    sendAnyway = Signal(str)  # the key of the check the user waved through
    goBack = Signal(object)  # the PreSendCheck: focus its field
    fixIt = Signal(object)  # the PreSendCheck: apply its fix

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("confirmBar")
        self.check: PreSendCheck | None = None
        self.text_label = QLabel(self)
        self.text_label.setObjectName("confirmText")
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fix_button = QPushButton(self)
        self.fix_button.setObjectName("confirmFix")
        self.yes_button = QPushButton("Send anyway", self)
        self.yes_button.setObjectName("confirmYes")
        self.no_button = QPushButton("Go back", self)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 8, 6)
        row.addWidget(self.text_label, 1)
        for b in (self.fix_button, self.yes_button, self.no_button):
            row.addWidget(b)
        self.yes_button.clicked.connect(self._yes)
        self.no_button.clicked.connect(self.go_back)
        self.fix_button.clicked.connect(self._fix)
        self.hide()

    def ask(self, check: PreSendCheck) -> None:
        self.check = check
        self.text_label.setText(check.text)
        self.fix_button.setText(check.fix_label or "")
        self.fix_button.setVisible(check.fix_label is not None)
        self.show()
        self.yes_button.setFocus()

    def go_back(self) -> None:
        self.hide()
        if self.check is not None:
            self.goBack.emit(self.check)

    def _yes(self) -> None:
        self.hide()
        if self.check is not None:
            self.sendAnyway.emit(self.check.key)

    def _fix(self) -> None:
        self.hide()
        if self.check is not None:
            self.fixIt.emit(self.check)
