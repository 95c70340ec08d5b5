"""A To / Cc / Bcc line that checks each address with the Mail API's own rules as the user types."""

from __future__ import annotations

from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from mailgui.addresses import parse_mailbox
from mailgui.errors import InvalidEmailError, InvalidHeaderValueError
from mailgui.gui.resources import icon


@dataclass(frozen=True)
class AddressProblem:
    entry: str
    reason: str


def split_entries(text: str) -> list[str]:
    """Split on commas and semicolons that are outside quotes and angle brackets; keep empty tail entries out."""
    entries: list[str] = []
    current: list[str] = []
    quoted = False
    angle = 0
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle += 1
        elif ch == ">" and not quoted and angle:
            angle -= 1
        elif ch in ",;" and not quoted and not angle:
            entries.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    entries.append("".join(current).strip())
    return [e for e in entries if e]


def address_problems(text: str, field: str, *, final: bool) -> list[AddressProblem]:
    """The entries of ``text`` that the Mail API would refuse, each with its reason.

    While typing (``final=False``) the entry after the last separator is still being written, so it is left
    alone until a separator follows it or the field is left.
    """
    entries = split_entries(text)
    stripped = text.rstrip()
    if not final and entries and not stripped.endswith((",", ";")):
        entries = entries[:-1]
    problems: list[AddressProblem] = []
    for entry in entries:
        try:
            parse_mailbox(entry, field)
        except (InvalidEmailError, InvalidHeaderValueError) as exc:
            problems.append(AddressProblem(entry, str(exc)))
    return problems


class AddressField(QWidget):
    """The line edit plus the label under it that names the bad address and why it is refused."""

    problemsChanged = Signal()

    def __init__(self, field: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.field = field
        self.edit = QLineEdit(self)
        self.edit.setObjectName(f"{field}Edit")
        self.edit.setPlaceholderText("name@example.com, Another Name <other@example.org>")
        self.error = QLabel(self)
        self.error.setObjectName(f"{field}Error")
        self.error.setProperty("role", "fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        self._mark = self.edit.addAction(icon("warning"), QLineEdit.ActionPosition.TrailingPosition)
        self._mark.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.edit)
        layout.addWidget(self.error)
        self.problems: list[AddressProblem] = []
        self.edit.textChanged.connect(lambda _t: self.check(final=False))
        self.edit.editingFinished.connect(lambda: self.check(final=True))

    def text(self) -> str:
        return self.edit.text()

    def setText(self, text: str) -> None:
        self.edit.setText(text)
        self.check(final=True)

    def entries(self) -> list[str]:
        return split_entries(self.edit.text())

    def check(self, *, final: bool) -> list[AddressProblem]:
        self.problems = address_problems(self.edit.text(), self.field, final=final)
        if self.problems:
            first = self.problems[0]
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            self.show_error(first.reason + more)
            self._mark.setToolTip("\n".join(p.reason for p in self.problems))
        else:
            self.show_error(None)
        self.problemsChanged.emit()
        return self.problems

    def show_error(self, reason: str | None) -> None:
        """Mark the field and show ``reason`` under it (None clears both)."""
        if not shiboken6.isValid(self._mark):  # editingFinished fires while the window is being destroyed
            return
        bad = reason is not None
        self.error.setText(reason or "")
        self.error.setVisible(bad)
        self._mark.setVisible(bad)
        if self.edit.property("invalid") != bad:
            self.edit.setProperty("invalid", bad)
            self.edit.style().unpolish(self.edit)
            self.edit.style().polish(self.edit)
