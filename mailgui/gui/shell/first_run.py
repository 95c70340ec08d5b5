"""First run on a new queue: the first authorized sender and the choice of relay, in one short dialog."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mailgui.addresses import normalize_sender_pattern
from mailgui.errors import Error
from mailgui.gui.resources import icon
from mailgui.queue import Queue
from mailgui.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_SENDER = "you@localhost"


def needs_first_run(queue: Queue) -> bool:
    """A queue with no authorized sender cannot send anything: that is a new queue, whatever else it holds."""
    return not queue.list_senders()


class FirstRunDialog(QDialog):
    """Accepting stores the sender and the relay choice; both are checked first, errors shown beside them."""

    def __init__(self, queue: Queue, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("firstRunDialog")
        self.setWindowTitle("Welcome to mailgui")
        self.setWindowIcon(icon("app"))
        self.queue = queue
        intro = QLabel(
            "<b>Welcome to mailgui.</b><br>Two things before the first message: who may send, and where mail goes. "
            "Both can be changed later in Settings (or with <code>mailgui senders add</code> and "
            "<code>mailgui config set relay.mode smtp</code>)."
        )
        intro.setWordWrap(True)
        self.sender_edit = QLineEdit(DEFAULT_SENDER)
        self.sender_edit.setObjectName("firstSenderEdit")
        self.sender_edit.selectAll()
        self.sender_error = QLabel()
        self.sender_error.setObjectName("firstSenderError")
        self.sender_error.setProperty("role", "fieldError")
        self.sender_error.setWordWrap(True)
        self.sender_error.hide()
        hint = QLabel("An exact address, or @example.com to allow a whole domain.")
        hint.setProperty("role", "hint")

        self.local_radio = QRadioButton("Built-in &local relay (recommended to start)")
        self.local_radio.setObjectName("firstLocalRadio")
        self.local_radio.setChecked(True)
        local_hint = QLabel(
            "Mail stays on this computer and shows in the Mailbox view. Send to success@simulator.mailgui.test, "
            "bounce@simulator.mailgui.test and the other test addresses to see deliveries, retries and bounces."
        )
        local_hint.setWordWrap(True)
        local_hint.setProperty("role", "hint")
        local_hint.setContentsMargins(24, 0, 0, 6)
        self.local_hint = local_hint
        self.smtp_radio = QRadioButton("A real &SMTP relay (your provider's server)")
        self.smtp_radio.setObjectName("firstSmtpRadio")
        group = QButtonGroup(self)
        group.addButton(self.local_radio)
        group.addButton(self.smtp_radio)
        self.host_edit = QLineEdit()
        self.host_edit.setObjectName("firstHostEdit")
        self.host_edit.setPlaceholderText("smtp.example.com")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(587)
        self.port_spin.setMaximumWidth(120)
        self.host_error = QLabel()
        self.host_error.setObjectName("firstHostError")
        self.host_error.setProperty("role", "fieldError")
        self.host_error.hide()
        smtp = QWidget()
        smtp_form = QFormLayout(smtp)
        smtp_form.setContentsMargins(24, 0, 0, 0)
        smtp_form.addRow("&Host:", self.host_edit)
        smtp_form.addRow("&Port:", self.port_spin)
        smtp_form.addRow("", self.host_error)
        more = QLabel("Security, user name and password: in Settings after this.")
        more.setProperty("role", "hint")
        smtp_form.addRow("", more)
        smtp.setEnabled(False)
        self.smtp_radio.toggled.connect(smtp.setEnabled)

        form = self.sender_form = QFormLayout()
        form.addRow("First &sender:", self.sender_edit)
        form.addRow("", hint)
        form.addRow("", self.sender_error)
        form.setRowVisible(2, False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Later")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 14)
        layout.setSpacing(6)
        layout.addWidget(intro)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addSpacing(8)
        layout.addWidget(QLabel("<b>Where mail goes</b>"))
        layout.addWidget(self.local_radio)
        layout.addWidget(self.local_hint)
        layout.addWidget(self.smtp_radio)
        layout.addWidget(smtp)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)
        self.resize(640, 440)

    def accept(self) -> None:
        """Check, store, close; on a bad entry stay open with the reason beside the field."""
        self.sender_error.hide()
        self.host_error.hide()
        try:
            pattern = normalize_sender_pattern(self.sender_edit.text())
        except Error as exc:
            self.sender_error.setText(str(exc))
            self.sender_form.setRowVisible(2, True)
            self.sender_error.show()
            self.sender_edit.setFocus()
            return
        settings = Settings(self.queue)
        try:
            if self.smtp_radio.isChecked():
                if not self.host_edit.text().strip():
                    raise Error("relay.host: a host name is needed to use an SMTP relay")
                settings.set("relay.host", self.host_edit.text())
                settings.set("relay.port", str(self.port_spin.value()))
                settings.set("relay.mode", "smtp")
            else:
                settings.set("relay.mode", "local")
        except Error as exc:
            self.host_error.setText(str(exc))
            self.host_error.show()
            self.host_edit.setFocus()
            return
        self.queue.add_sender(pattern)
        log.info("first run: authorized %s, relay.mode=%s", pattern, settings.get("relay.mode"))
        super().accept()


def open_first_run(queue: Queue, parent: QWidget | None = None) -> tuple[FirstRunDialog, asyncio.Future[bool]]:
    """Open the dialog without a nested event loop (open() and a future, never exec()).

    The future resolves to True if the user accepted, False if they chose Later.
    """
    dialog = FirstRunDialog(queue, parent)
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not done.done():
            done.set_result(result == QDialog.DialogCode.Accepted)
        dialog.deleteLater()

    dialog.finished.connect(finished)
    dialog.open()
    return dialog, done
