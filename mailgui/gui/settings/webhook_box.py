"""The settings pane's "Events webhook" group: where each event is POSTed (``events.webhook.url``), the secret that
signs it (kept in the OS keyring, never shown back), and why the last POST failed, as the sender wrote it in the
queue (``events.webhook.last_error``)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from mailgui.delivery.webhooks import LAST_ERROR
from mailgui.errors import SecretStoreError
from mailgui.gui.settings.fields import error_label, with_error
from mailgui.gui.widgets.plain import plain_label
from mailgui.queue import Queue
from mailgui.settings import Settings, get_password, set_password

URL = "events.webhook.url"
SECRET = "events.webhook.secret"


def _set_role(label: QLabel, role: str) -> None:
    label.setProperty("role", role)
    label.style().unpolish(label)
    label.style().polish(label)


class WebhookBox(QGroupBox):
    """The URL is saved with the pane's other settings (``form_values``); the secret after them, as it is kept
    in the keyring for the URL saved."""

    def __init__(self, queue: Queue, parent: QWidget | None = None):
        super().__init__("Events webhook", parent)
        self.setObjectName("webhookBox")
        self.queue = queue
        self.settings = Settings(queue)
        self.errors: dict[str, QLabel] = {
            URL: error_label("events_webhook_url_error"),
            SECRET: error_label("events_webhook_secret_error"),
        }
        self.url_edit = QLineEdit()
        self.url_edit.setObjectName("webhookUrlEdit")
        self.url_edit.setPlaceholderText("https://hooks.example.com/mailgui")
        self.secret_edit = QLineEdit()
        self.secret_edit.setObjectName("webhookSecretEdit")
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_edit.setPlaceholderText("unchanged")
        self.secret_note = QLabel()
        self.secret_note.setObjectName("webhookSecretNote")
        self.secret_note.setWordWrap(True)
        self.last_error = plain_label()  # the receiver's or the network's words, quoted by the sender
        self.last_error.setObjectName("webhookLastError")
        self.last_error.setWordWrap(True)
        self.last_error.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.last_error.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # reached by Tab and its mnemonic, to read or copy

        secret_box = QWidget()
        secret_box.setFocusProxy(self.secret_edit)
        secret_col = QVBoxLayout(secret_box)
        secret_col.setContentsMargins(0, 0, 0, 0)
        secret_col.setSpacing(2)
        for widget in (self.secret_edit, self.secret_note, self.errors[SECRET]):
            secret_col.addWidget(widget)
        form = QFormLayout(self)
        hint = "each event is POSTed here as signed JSON; https, or http to 127.0.0.1 only; empty: off"
        form.addRow("U&RL:", with_error(self.url_edit, self.errors[URL], hint))
        form.addRow("S&igning secret:", secret_box)
        form.addRow("Las&t error:", self.last_error)

    def load(self, keyring_ok: bool = True) -> None:
        self.url_edit.setText(self.settings.get(URL))
        self.secret_edit.clear()
        if keyring_ok:
            self.secret_note.setText(
                "Kept in the OS keyring for this URL, never in the queue file; type it again after changing the URL."
            )
            _set_role(self.secret_note, "hint")
        else:
            self.secret_note.setText(
                "No OS keyring is available here, so a secret typed here is not stored (mailgui never writes it in "
                "plain text), and events cannot be signed and sent."
            )
            _set_role(self.secret_note, "fieldError")
        self.refresh_last_error()

    def refresh_last_error(self) -> None:
        """Show why the sender's last POST failed; it writes '' once one gets through."""
        error = self.queue.get_setting(LAST_ERROR) or ""
        self.last_error.setText(error or "No error")
        _set_role(self.last_error, "fieldError" if error else "hint")

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh_last_error()  # the sender may have failed, or got through, since the pane was last shown
        super().showEvent(event)

    def form_values(self) -> dict[str, str]:
        return {URL: self.url_edit.text()}

    def refusal(self, url: str) -> str | None:
        """Why the form cannot be saved as it is, given the URL it would save (checked), or None."""
        if self.secret_edit.text() and not url:
            return f"{SECRET}: set the URL first; the secret is kept in the OS keyring for it"
        return None

    def _kept_secret(self) -> str | None:
        """The secret kept for the saved URL; '' when the keyring cannot be read (nothing typed, nothing to save:
        a keyring that cannot be read now is no reason to refuse the rest of the form)."""
        try:
            return get_password(self.settings, SECRET)
        except SecretStoreError:
            return ""

    def save_secret(self, url_before: str) -> str | None:
        """After the URL is saved: keep the secret typed, if any, for it. Returns why it could not be kept (also
        shown under the field), or None. A new URL with none typed and none kept is told in the note: the sender
        sends nothing unsigned."""
        secret = self.secret_edit.text()
        url = self.settings.get(URL)
        problem: str | None = None
        try:
            if secret:
                set_password(self.settings, secret, SECRET)
                self.secret_edit.clear()
            elif url and url != url_before and self._kept_secret() is None:
                self.secret_note.setText("No secret is kept for the new URL yet: no event is sent until one is.")
                _set_role(self.secret_note, "fieldError")
        except SecretStoreError as exc:
            problem = str(exc)
        self.errors[SECRET].setText(problem or "")
        self.errors[SECRET].setVisible(problem is not None)
        return problem
