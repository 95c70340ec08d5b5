"""The settings pane: authorized senders, the SMTP relay (with Test connection), retry policy, the events
webhook."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mailgui.errors import Error, SecretStoreError
from mailgui.gui.resources import icon
from mailgui.gui.settings.fields import error_label, with_error
from mailgui.gui.settings.senders_editor import SendersEditor
from mailgui.gui.settings.webhook_box import SECRET as WEBHOOK_SECRET
from mailgui.gui.settings.webhook_box import URL as WEBHOOK_URL
from mailgui.gui.settings.webhook_box import WebhookBox
from mailgui.gui.tasks import TaskSet
from mailgui.gui.widgets.duration_box import DurationBox
from mailgui.gui.widgets.plain import plain_label
from mailgui.queue import Queue
from mailgui.settings import Settings, check_setting, set_password

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayForm:
    """The relay settings as typed (not yet saved), for Test connection."""

    values: dict[str, str]
    password: str | None = field(repr=False)  # a form in a log line or a traceback must not show it


# Test connection: connect, TLS, AUTH, no mail; returns a success text or raises mailgui.errors.Error.
ConnectionTester = Callable[[RelayForm], Coroutine[Any, Any, str]]


def keyring_problem() -> str | None:
    """Why a password cannot be kept here (no OS keyring), or None when it can."""
    from mailgui import settings as settings_module

    try:
        settings_module._keyring()  # the same check set_password makes
    except SecretStoreError as exc:
        return str(exc)
    except Exception as exc:  # a broken keyring backend: say so rather than fail the pane
        log.warning("keyring check failed: %s", exc)
        return f"relay.password: the OS keyring cannot be used here: {exc}"
    return None


class SettingsPane(QScrollArea):
    """Edits the settings stored in the queue file: the same ones the API and the command line use."""

    sendersChanged = Signal()
    settingsSaved = Signal()

    def __init__(self, queue: Queue, tester: ConnectionTester | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("settingsPane")
        self.queue = queue
        self.settings = Settings(queue)
        self.tester = tester
        self.tasks = TaskSet("settings")
        self.test_task: asyncio.Task[str] | None = None
        self.errors: dict[str, QLabel] = {}
        self.fields: dict[str, QWidget] = {}
        body = QWidget()
        body.setMaximumWidth(1240)
        layout = QVBoxLayout(body)
        self.senders = SendersEditor(queue)
        self.senders.changed.connect(self.sendersChanged)
        # Two columns side by side: the whole pane fits a usual window without scrolling.
        columns = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(self.senders)
        left.addWidget(self._admins_group())
        left.addWidget(self._retry_group())
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self._relay_group())
        self.webhook = WebhookBox(queue)
        self.errors.update(self.webhook.errors)
        right.addWidget(self.webhook)
        right.addStretch(1)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        layout.addLayout(columns)
        buttons = QHBoxLayout()
        self.saved_label = QLabel()
        self.saved_label.setObjectName("savedLabel")
        self.saved_label.setProperty("role", "hint")
        buttons.addWidget(self.saved_label, 1)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Show the saved settings again")
        self.revert_button.clicked.connect(self.load)
        self.save_button = QPushButton("Save settings")
        self.save_button.setObjectName("primary")
        self.save_button.setToolTip("Save (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)
        layout.addStretch(1)
        for spin in (
            self.port_spin,
            self.timeout_spin,
            self.connections_spin,
            self.min_backoff,
            self.max_backoff,
            self.lifetime,
            self.delay_warning,
        ):
            spin.setMaximumWidth(160)
        self.security_box.setMaximumWidth(260)
        self.setWidget(body)
        self.setWidgetResizable(True)
        QShortcut(QKeySequence("Ctrl+S"), self, self.save, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.load()

    # -- relay --------------------------------------------------------------------------------------------
    def _relay_group(self) -> QGroupBox:
        group = QGroupBox("Relay")
        self.local_radio = QRadioButton("Built-in &local relay (mail stays on this computer, in the Mailbox view)")
        self.local_radio.setObjectName("localRadio")
        self.smtp_radio = QRadioButton("&SMTP relay (a real mail server)")
        self.smtp_radio.setObjectName("smtpRadio")
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.local_radio)
        self.mode_group.addButton(self.smtp_radio)
        self.host_edit = QLineEdit()
        self.host_edit.setObjectName("hostEdit")
        self.host_edit.setPlaceholderText("smtp.example.com")
        self.port_spin = QSpinBox()
        self.port_spin.setObjectName("portSpin")
        self.port_spin.setRange(1, 65535)
        self.security_box = QComboBox()
        self.security_box.setObjectName("securityBox")
        for label, value in (("STARTTLS", "starttls"), ("TLS (implicit, port 465)", "tls"), ("None", "none")):
            self.security_box.addItem(label, value)
        self.username_edit = QLineEdit()
        self.username_edit.setObjectName("usernameEdit")
        self.username_edit.setPlaceholderText("empty: no authentication")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("passwordEdit")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("unchanged")
        self.password_note = QLabel()
        self.password_note.setObjectName("passwordNote")
        self.password_note.setWordWrap(True)
        self.timeout_spin = QDoubleSpinBox()
        self.timeout_spin.setObjectName("timeoutSpin")
        self.timeout_spin.setRange(1, 600)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setDecimals(0)
        self.connections_spin = QSpinBox()
        self.connections_spin.setObjectName("connectionsSpin")
        self.connections_spin.setRange(1, 64)
        self.ca_edit = QLineEdit()
        self.ca_edit.setObjectName("caEdit")
        self.ca_edit.setPlaceholderText("optional extra CA bundle (certificate checks always stay on)")
        for key in (
            "relay.mode",
            "relay.host",
            "relay.port",
            "relay.security",
            "relay.username",
            "relay.password",
            "relay.timeout",
            "worker.connections",
            "relay.ca_file",
        ):
            self.errors[key] = error_label(key.replace(".", "_") + "_error")

        self.test_button = QPushButton(icon("refresh"), "Test connection")
        self.test_button.setObjectName("testButton")
        self.test_button.setToolTip("Connect, negotiate TLS and log in, without sending mail (Ctrl+T)")
        self.test_button.clicked.connect(self.start_test)
        self.test_progress = QProgressBar()
        self.test_progress.setRange(0, 0)  # busy
        self.test_progress.setMaximumWidth(120)
        self.test_progress.hide()
        self.test_result = plain_label()  # quotes the relay's reply
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        QShortcut(QKeySequence("Ctrl+T"), self, self.start_test, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)

        self.smtp_box = QWidget()
        form = QFormLayout(self.smtp_box)
        form.setContentsMargins(20, 0, 0, 0)
        form.addRow("&Host:", with_error(self.host_edit, self.errors["relay.host"]))
        form.addRow("&Port:", with_error(self.port_spin, self.errors["relay.port"]))
        form.addRow("S&ecurity:", with_error(self.security_box, self.errors["relay.security"]))
        form.addRow("&User name:", with_error(self.username_edit, self.errors["relay.username"]))
        password_box = QWidget()
        password_col = QVBoxLayout(password_box)
        password_col.setContentsMargins(0, 0, 0, 0)
        password_col.setSpacing(2)
        password_col.addWidget(self.password_edit)
        password_col.addWidget(self.password_note)
        password_col.addWidget(self.errors["relay.password"])
        form.addRow("Pass&word:", password_box)
        password_label = form.labelForField(password_box)
        if isinstance(password_label, QLabel):
            password_label.setBuddy(self.password_edit)
        form.addRow("CA &file:", with_error(self.ca_edit, self.errors["relay.ca_file"]))
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_progress)
        test_row.addWidget(self.test_result, 1)
        form.addRow("", test_row)

        common = QFormLayout()
        common.addRow("Time&out per step:", with_error(self.timeout_spin, self.errors["relay.timeout"]))
        common.addRow(
            "&Connections:",
            with_error(self.connections_spin, self.errors["worker.connections"], "SMTP connections used at once"),
        )
        col = QVBoxLayout(group)
        col.addWidget(self.local_radio)
        col.addWidget(self.smtp_radio)
        col.addWidget(self.errors["relay.mode"])
        col.addWidget(self.smtp_box)
        col.addLayout(common)
        self.smtp_radio.toggled.connect(self.smtp_box.setEnabled)
        return group

    # -- retry --------------------------------------------------------------------------------------------
    def _admins_group(self) -> QGroupBox:
        group = QGroupBox("Administrators")
        self.admins_edit = QLineEdit()
        self.admins_edit.setObjectName("adminsEdit")
        self.admins_edit.setPlaceholderText("ann@example.com, Bob <bob@example.org>")
        self.errors["admins"] = error_label("admins_error")
        form = QFormLayout(group)
        hint = "where mail.send_mail_to_admins() sends; addresses separated by commas"
        form.addRow("&Addresses:", with_error(self.admins_edit, self.errors["admins"], hint))
        return group

    def _retry_group(self) -> QGroupBox:
        group = QGroupBox("Retries and delivery reports")
        # Ranges as mailgui.settings checks them, in seconds.
        self.min_backoff = DurationBox(1, 86400)
        self.min_backoff.setObjectName("minBackoff")
        self.max_backoff = DurationBox(1, 7 * 86400)
        self.max_backoff.setObjectName("maxBackoff")
        self.lifetime = DurationBox(60, 60 * 86400, step=3600)
        self.lifetime.setObjectName("lifetime")
        self.delay_warning = DurationBox(0, 60 * 86400, step=3600)
        self.delay_warning.setObjectName("delayWarning")
        self.delay_warning.setSpecialValueText("off")
        for key in ("retry.min_backoff", "retry.max_backoff", "retry.lifetime", "bounce.delay_warning"):
            self.errors[key] = error_label(key.replace(".", "_") + "_error")
        form = QFormLayout(group)
        form.addRow("&First retry after:", with_error(self.min_backoff, self.errors["retry.min_backoff"]))
        form.addRow(
            "&Longest gap:",
            with_error(
                self.max_backoff, self.errors["retry.max_backoff"], "the gap doubles after each try, up to this"
            ),
        )
        form.addRow(
            "&Give up after:",
            with_error(self.lifetime, self.errors["retry.lifetime"], "then the message bounces with a report"),
        )
        form.addRow(
            "&Delay warning after:",
            with_error(
                self.delay_warning,
                self.errors["bounce.delay_warning"],
                "tell the sender once when a message is still waiting this long (off: never)",
            ),
        )
        return group

    # -- load / save ----------------------------------------------------------------------------------------
    def load(self) -> None:
        s = self.settings
        self.senders.load()
        local = s.get("relay.mode") == "local"
        self.local_radio.setChecked(local)
        self.smtp_radio.setChecked(not local)
        self.smtp_box.setEnabled(not local)
        self.host_edit.setText(s.get("relay.host"))
        self.port_spin.setValue(s.get_int("relay.port"))
        self.security_box.setCurrentIndex(max(0, self.security_box.findData(s.get("relay.security"))))
        self.username_edit.setText(s.get("relay.username"))
        self.password_edit.clear()
        self.ca_edit.setText(s.get("relay.ca_file"))
        self.timeout_spin.setValue(s.get_float("relay.timeout"))
        self.connections_spin.setValue(s.get_int("worker.connections"))
        self.min_backoff.setValue(round(s.get_float("retry.min_backoff")))
        self.max_backoff.setValue(round(s.get_float("retry.max_backoff")))
        self.lifetime.setValue(round(s.get_float("retry.lifetime")))
        self.delay_warning.setValue(round(s.get_float("bounce.delay_warning")))
        self.admins_edit.setText(s.get("admins"))
        problem = keyring_problem()
        self.keyring_ok = problem is None
        self.password_note.setText(
            "Kept in the OS keyring, never in the queue file."
            if problem is None
            else "No OS keyring is available here, so a password typed here is used for Test connection only and "
            "is not stored (mailgui never writes it in plain text)."
        )
        self.password_note.setProperty("role", "hint" if problem is None else "fieldError")
        self.password_note.style().unpolish(self.password_note)
        self.password_note.style().polish(self.password_note)
        self.webhook.load(keyring_ok=problem is None)
        for label in self.errors.values():
            label.hide()

    def form_values(self) -> dict[str, str]:
        return {
            "relay.mode": "local" if self.local_radio.isChecked() else "smtp",
            "relay.host": self.host_edit.text(),
            "relay.port": str(self.port_spin.value()),
            "relay.security": str(self.security_box.currentData()),
            "relay.username": self.username_edit.text(),
            "relay.timeout": f"{self.timeout_spin.value():g}",
            "worker.connections": str(self.connections_spin.value()),
            "relay.ca_file": self.ca_edit.text(),
            "retry.min_backoff": str(self.min_backoff.value()),
            "retry.max_backoff": str(self.max_backoff.value()),
            "retry.lifetime": str(self.lifetime.value()),
            "bounce.delay_warning": str(self.delay_warning.value()),
            "admins": self.admins_edit.text(),
        } | self.webhook.form_values()

    def _field_error(self, key: str, message: str | None) -> None:
        label = self.errors[key]
        label.setText(message or "")
        label.setVisible(bool(message))

    def save(self) -> bool:
        """Validate every field (errors beside each), then store them all; the password goes to the keyring."""
        for label in self.errors.values():
            label.hide()
        values = self.form_values()
        checked: dict[str, str] = {}
        ok = True
        for key, value in values.items():
            try:
                checked[key] = check_setting(key, value)
            except Error as exc:
                self._field_error(key, str(exc))
                ok = False
        if ok and checked["relay.mode"] == "smtp" and not checked["relay.host"]:
            self._field_error("relay.host", "relay.host: a host name is needed to use an SMTP relay")
            ok = False
        if ok and float(checked["retry.max_backoff"]) < float(checked["retry.min_backoff"]):
            self._field_error("retry.max_backoff", "retry.max_backoff: the longest gap is shorter than the first retry")
            ok = False
        if ok and (refusal := self.webhook.refusal(checked[WEBHOOK_URL])):
            self._field_error(WEBHOOK_SECRET, refusal)
            ok = False
        if not ok:
            self.saved_label.setText("Not saved: see the fields marked below.")
            return False
        webhook_url_before = self.settings.get(WEBHOOK_URL)
        for key, value in checked.items():
            self.settings.set(key, value)
        unsaved: list[str] = []
        password = self.password_edit.text()
        if password:
            try:
                set_password(self.settings, password)
            except SecretStoreError as exc:
                self._field_error("relay.password", str(exc))
                unsaved.append("the password")
            else:
                self.password_edit.clear()
        if self.webhook.save_secret(webhook_url_before) is not None:
            unsaved.append("the webhook secret")
        self.saved_label.setText(
            f"Settings saved, but not {' nor '.join(unsaved)}: see below." if unsaved else "Settings saved."
        )
        self.settingsSaved.emit()
        return not unsaved

    # -- test connection (a task on the running loop: the window never freezes) ------------------------------
    def start_test(self) -> asyncio.Task[str] | None:
        if self.tester is None:
            self._show_test_result(False, "Test connection is not available in this build.")
            return None
        if self.test_task is not None and not self.test_task.done():
            return self.test_task
        form = RelayForm(self.form_values(), self.password_edit.text() or None)
        self.test_button.setEnabled(False)
        self.test_progress.show()
        self.test_result.setText(f"Connecting to {form.values['relay.host']}:{form.values['relay.port']}…")
        self.test_result.setProperty("ok", None)
        self.test_task = self.tasks.start(self.tester(form), on_done=self._test_done)
        return self.test_task

    def _test_done(self, task: asyncio.Task[str]) -> None:
        self.test_button.setEnabled(True)
        self.test_progress.hide()
        if task.cancelled():
            self._show_test_result(False, "Test cancelled.")
            return
        exc = task.exception()
        if exc is None:
            self._show_test_result(True, task.result())
        elif isinstance(exc, Error):
            self._show_test_result(False, str(exc))
        else:
            self._show_test_result(False, f"Test failed unexpectedly: {type(exc).__name__}: {exc}")

    def _show_test_result(self, ok: bool, text: str) -> None:
        self.test_result.setText(("✔ " if ok else "✖ Failed: ") + text)
        self.test_result.setProperty("ok", ok)
        self.test_result.style().unpolish(self.test_result)
        self.test_result.style().polish(self.test_result)
