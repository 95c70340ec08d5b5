"""The compose window's header: From (a choice among the authorized senders), To, Cc, Bcc and Subject, each
with the place its error is shown."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from mailgui.gui.compose.address_field import AddressField
from mailgui.gui.compose.sender_field import SenderField


def field_error_label(name: str) -> QLabel:
    """The hidden line under a field where its error goes."""
    label = QLabel()
    label.setObjectName(name)
    label.setProperty("role", "fieldError")
    label.setWordWrap(True)
    label.hide()
    return label


class HeaderForm(QWidget):
    openSettingsRequested = Signal()  # no sender is authorized yet: the link asks for the settings

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.sender_field = SenderField()
        self.sender_field.setObjectName("senderField")
        self.no_senders = QLabel('No authorized senders yet. <a href="settings">Add one in Settings</a> to send mail.')
        self.no_senders.setObjectName("noSendersLink")
        self.no_senders.setProperty("role", "fieldError")
        self.no_senders.linkActivated.connect(lambda _l: self.openSettingsRequested.emit())
        self.no_senders.hide()
        sender_col = QVBoxLayout()
        sender_col.setSpacing(2)
        sender_col.addWidget(self.sender_field)
        sender_col.addWidget(self.no_senders)

        self.to_field = AddressField("to")
        self.cc_field = AddressField("cc")
        self.bcc_field = AddressField("bcc")
        self.address_fields = {"to": self.to_field, "cc": self.cc_field, "bcc": self.bcc_field}
        self.subject_edit = QLineEdit()
        self.subject_edit.setObjectName("subjectEdit")
        self.subject_error = field_error_label("subjectError")
        subject_col = QVBoxLayout()
        subject_col.setSpacing(2)
        subject_col.addWidget(self.subject_edit)
        subject_col.addWidget(self.subject_error)

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("&From:", sender_col)
        form.addRow("&To:", self.to_field)
        form.addRow("&Cc:", self.cc_field)
        form.addRow("&Bcc:", self.bcc_field)
        form.addRow("&Subject:", subject_col)
        for column, buddy in ((sender_col, self.sender_field.choice), (subject_col, self.subject_edit)):
            label = form.labelForField(column)
            if isinstance(label, QLabel):
                label.setBuddy(buddy)

    def set_senders(self, patterns: list[str]) -> None:
        self.sender_field.set_senders(patterns)
        self.no_senders.setVisible(not patterns)
