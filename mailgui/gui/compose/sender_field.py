"""The From field: a choice among the authorized senders, never free text.

An exact address (``ann@example.com``) is a fixed choice. A whole-domain entry (``@example.com``) lets any
address at that domain send, so choosing it asks for the part before the @ only, checked as it is typed with
the Mail API's own rules. An optional display name goes beside it.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from mailgui.addresses import parse_mailbox
from mailgui.errors import InvalidEmailError, InvalidHeaderValueError
from mailgui.gui.resources import icon

_UNAUTHORIZED = "unauthorized"  # item data of a sender kept from a draft that is no longer authorized


def _mailbox_text(name: str, address: str) -> str:
    name = name.strip()
    if not name:
        return address
    quoted = f'"{name}"' if any(c in name for c in ',;:<>@"()[]\\') else name
    return f"{quoted} <{address}>"


class SenderField(QWidget):
    """``text()`` is the sender as the Mail API takes it (``Name <addr>`` or ``addr``); ``""`` when unfinished."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.local_edit = QLineEdit(self)
        self.local_edit.setObjectName("senderLocalPart")
        self.local_edit.setPlaceholderText("your name")
        self.local_edit.setToolTip("The part before the @: any address at this domain may send")
        self.local_edit.setMaximumWidth(200)
        self.local_edit.hide()
        self.choice = QComboBox(self)
        self.choice.setObjectName("senderChoice")
        self.choice.setMinimumWidth(240)
        self.choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("senderName")
        self.name_edit.setPlaceholderText("optional, shown to recipients")
        self.error = QLabel(self)
        self.error.setObjectName("senderError")
        self.error.setProperty("role", "fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        self._mark = self.local_edit.addAction(icon("warning"), QLineEdit.ActionPosition.TrailingPosition)
        self._mark.setVisible(False)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.local_edit)
        row.addWidget(self.choice)
        row.addSpacing(12)
        name_label = QLabel("&Name:", self)
        name_label.setBuddy(self.name_edit)
        row.addWidget(name_label)
        row.addWidget(self.name_edit, 1)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        col.addLayout(row)
        col.addWidget(self.error)
        self.setFocusProxy(self.choice)

        self.choice.currentIndexChanged.connect(self._choice_changed)
        self.local_edit.textEdited.connect(lambda _t: self._typed())
        self.local_edit.editingFinished.connect(lambda: self.check(final=True))
        self.name_edit.textEdited.connect(lambda _t: self._typed())

    # -- the list ---------------------------------------------------------------------------------------
    def set_senders(self, patterns: list[str]) -> None:
        """Offer ``patterns`` (exact addresses first, then domains), keeping the current choice if it is there."""
        current = self.text() or self._current_pattern()
        local = self.local_edit.text()
        exact = [p for p in patterns if not p.startswith("@")]
        domains = [p for p in patterns if p.startswith("@")]
        self.choice.blockSignals(True)
        self.choice.clear()
        for p in exact:
            self.choice.addItem(p, p)
            self.choice.setItemData(self.choice.count() - 1, "Authorized address", Qt.ItemDataRole.ToolTipRole)
        for p in domains:
            self.choice.addItem(p, p)
            self.choice.setItemData(
                self.choice.count() - 1,
                f"Any address at {p[1:]}: type the part before the @",
                Qt.ItemDataRole.ToolTipRole,
            )
        self.choice.blockSignals(False)
        if current:
            self.set_text(current)
            if not self.local_edit.text() and local and self.is_domain_choice():
                self.local_edit.setText(local)
        else:
            self._choice_changed(self.choice.currentIndex())

    def _current_pattern(self) -> str:
        data = self.choice.currentData()
        return data if isinstance(data, str) and data != _UNAUTHORIZED else ""

    def is_domain_choice(self) -> bool:
        return self._current_pattern().startswith("@")

    def _choice_changed(self, _index: int) -> None:
        domain = self.is_domain_choice()
        self.local_edit.setVisible(domain)
        if domain:
            self.local_edit.setFocus()
        self.check(final=False)
        self.changed.emit()

    def _typed(self) -> None:
        self.check(final=False)
        self.changed.emit()

    # -- value ------------------------------------------------------------------------------------------
    def address(self) -> str:
        pattern = self._current_pattern()
        if self.choice.currentData() == _UNAUTHORIZED:
            return self.choice.currentText()
        if pattern.startswith("@"):
            local = self.local_edit.text().strip()
            return f"{local}{pattern}" if local else ""
        return pattern

    def text(self) -> str:
        address = self.address()
        return _mailbox_text(self.name_edit.text(), address) if address else ""

    def set_text(self, text: str) -> None:
        """Select the entry that authorizes ``text``; a sender no longer authorized is kept, and marked."""
        text = text.strip()
        if not text:
            return
        try:
            mailbox = parse_mailbox(text, "sender")
            name, address = mailbox.name, mailbox.address
        except (InvalidEmailError, InvalidHeaderValueError):
            name, address = "", text
        local, _, domain = address.rpartition("@")
        index = self.choice.findData(address, flags=Qt.MatchFlag.MatchFixedString)
        if index < 0 and domain:
            index = self.choice.findData(f"@{domain}", flags=Qt.MatchFlag.MatchFixedString)
        if index < 0:  # from a draft or an old message: keep it visible rather than lose it
            self.choice.addItem(icon("warning"), address, _UNAUTHORIZED)
            index = self.choice.count() - 1
        self.choice.blockSignals(True)
        self.choice.setCurrentIndex(index)
        self.choice.blockSignals(False)
        if self.is_domain_choice():
            self.local_edit.setText(local)
        self.local_edit.setVisible(self.is_domain_choice())
        self.name_edit.setText(name)
        self.check(final=True)

    # -- checks -----------------------------------------------------------------------------------------
    def problem(self, *, final: bool) -> str | None:
        """Why the Mail API would refuse this sender, or None. While typing an empty local part is not yet one."""
        if self.choice.count() == 0:
            return "sender: no authorized sender yet; add one in Settings"
        if self.choice.currentData() == _UNAUTHORIZED:
            return (
                f"sender: {self.choice.currentText()!r} is not an authorized sender; "
                "choose another or add it (or its @domain) in Settings"
            )
        pattern = self._current_pattern()
        if pattern.startswith("@"):
            local = self.local_edit.text().strip()
            if not local:
                return "sender: type the part before the @" if final else None
            try:
                parse_mailbox(_mailbox_text(self.name_edit.text(), f"{local}{pattern}"), "sender")
            except (InvalidEmailError, InvalidHeaderValueError) as exc:
                return str(exc)
        elif self.name_edit.text().strip():
            try:
                parse_mailbox(self.text(), "sender")
            except (InvalidEmailError, InvalidHeaderValueError) as exc:
                return str(exc)
        return None

    def check(self, *, final: bool) -> str | None:
        reason = self.problem(final=final)
        self.show_error(reason)
        return reason

    def show_error(self, reason: str | None) -> None:
        if not shiboken6.isValid(self._mark):  # editingFinished fires while the window is being destroyed
            return
        bad = reason is not None
        self.error.setText(reason or "")
        self.error.setVisible(bad)
        self._mark.setVisible(bad and self.local_edit.isVisible())
        for w in (self.local_edit, self.choice):
            if w.property("invalid") != bad:
                w.setProperty("invalid", bad)
                w.style().unpolish(w)
                w.style().polish(w)
