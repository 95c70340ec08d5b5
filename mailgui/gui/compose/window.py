"""The compose window: write a message, check it, and queue it through the same Mail API scripts use."""

from __future__ import annotations

import logging
from datetime import datetime

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mailgui.addresses import parse_mailbox
from mailgui.clock import Clock
from mailgui.errors import Error
from mailgui.gui.compose.attachment_list import AttachmentList, local_files
from mailgui.gui.compose.autosave import AUTOSAVE_DELAY, DraftAutosave
from mailgui.gui.compose.checks import PreSendCheck, error_field, pre_send_checks
from mailgui.gui.compose.header_form import HeaderForm, field_error_label
from mailgui.gui.compose.pre_send_question import PreSendQuestion
from mailgui.gui.compose.reserved_addresses import reserved_addresses_html
from mailgui.gui.compose.send_later import SendLaterPanel
from mailgui.gui.compose.sending import queue_fields
from mailgui.gui.resources import icon
from mailgui.queue import Queue
from mailgui.queue.drafts import DraftFields

log = logging.getLogger(__name__)


def _bar(name: str) -> tuple[QFrame, QLabel, QHBoxLayout]:
    frame = QFrame()
    frame.setObjectName(name)
    label = QLabel(frame)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    row = QHBoxLayout(frame)
    row.setContentsMargins(8, 6, 8, 6)
    row.addWidget(label, 1)
    frame.hide()
    return frame, label, row


class ComposeWindow(QWidget):
    """One message being written. Sending refused leaves every field as it was, with the reason beside it."""

    sent = Signal(int)  # queue id
    draftSaved = Signal(int)
    draftDeleted = Signal(int)
    openSettingsRequested = Signal()

    def __init__(
        self,
        queue: Queue,
        clock: Clock,
        *,
        fields: DraftFields | None = None,
        draft_id: int | None = None,
        autosave_delay: float = AUTOSAVE_DELAY,
        parent: QWidget | None = None,
    ):
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("composeWindow")
        self.queue = queue
        self.clock = clock
        self.draft_id = draft_id
        self.finished = False  # sent or discarded: nothing left to save
        self.acknowledged: set[str] = set()
        self._pending_send_at: float | None = None
        self.setWindowIcon(icon("compose"))
        self.setAcceptDrops(True)
        self.resize(760, 680)
        self._build()
        self.autosave = DraftAutosave(clock, self.save_draft, autosave_delay, self)
        self.reload_senders()
        if fields is not None:
            self.set_fields(fields)
        self._update_title()
        self._connect_changes()

    # -- layout -----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.error_bar, self.error_text, _ = _bar("errorBar")
        self.error_text.setObjectName("generalError")
        self.confirm_bar = PreSendQuestion()
        self.confirm_bar.sendAnyway.connect(self._send_anyway)
        self.confirm_bar.goBack.connect(self._go_back_to)
        self.confirm_bar.fixIt.connect(self._fix)

        self.header = HeaderForm()
        self.header.openSettingsRequested.connect(self.openSettingsRequested)
        # The fields are the window's; the form lays them out.
        self.sender_field = self.header.sender_field
        self.to_field, self.cc_field, self.bcc_field = self.header.to_field, self.header.cc_field, self.header.bcc_field
        self.address_fields = self.header.address_fields
        self.subject_edit = self.header.subject_edit
        self.errors: dict[str, QLabel] = {"sender": self.sender_field.error, "subject": self.header.subject_error}

        self.body_edit = QPlainTextEdit()
        self.body_edit.setObjectName("bodyEdit")
        self.body_edit.setPlaceholderText("Plain-text message")
        self.body_edit.viewport().installEventFilter(self)  # file drops on the body attach, not paste a path
        self.errors["body"] = field_error_label("bodyError")
        self.html_check = QCheckBox("Also send an &HTML version")
        self.html_check.setObjectName("htmlCheck")
        self.html_edit = QPlainTextEdit()
        self.html_edit.setObjectName("htmlEdit")
        self.html_edit.setPlaceholderText("<p>HTML body (optional; remote images are not fetched by the app)</p>")
        self.html_edit.hide()
        self.html_check.toggled.connect(self.html_edit.setVisible)
        bodies = QSplitter(Qt.Orientation.Vertical)
        bodies.addWidget(self.body_edit)
        bodies.addWidget(self.html_edit)

        self.attachments = AttachmentList()
        self.errors["attachments"] = self.attachments.error

        self.send_later_panel = SendLaterPanel()
        self.send_later_panel.scheduleRequested.connect(self.schedule)
        self.errors["send_at"] = field_error_label("sendAtError")

        self.help_panel = QLabel(reserved_addresses_html())
        self.help_panel.setObjectName("helpPanel")
        self.help_panel.setWordWrap(True)
        self.help_panel.setTextFormat(Qt.TextFormat.RichText)
        self.help_panel.linkActivated.connect(self._insert_reserved)
        self.help_scroll = QScrollArea()
        self.help_scroll.setWidget(self.help_panel)
        self.help_scroll.setWidgetResizable(True)
        self.help_scroll.setMaximumHeight(190)
        self.help_scroll.hide()

        self.status = QLabel()
        self.status.setObjectName("composeStatus")
        self.status.setProperty("role", "hint")
        self.help_button = QPushButton(icon("help"), "Test addresses")
        self.help_button.setToolTip("Reserved addresses of the built-in relay (F1)")
        self.help_button.setCheckable(True)
        self.help_button.toggled.connect(self.help_scroll.setVisible)
        self.discard_button = QPushButton(icon("remove"), "Discard")
        self.discard_button.setToolTip("Close and delete this draft")
        self.discard_button.clicked.connect(self.discard)
        self.save_button = QPushButton(icon("drafts"), "Save draft")
        self.save_button.setToolTip("Save draft (Ctrl+S)")
        self.save_button.clicked.connect(self.save_draft)
        self.later_button = QPushButton(icon("send-later"), "Send later…")
        self.later_button.setObjectName("sendLaterButton")
        self.later_button.setToolTip("Pick a date and time; the queue holds the message until then (Ctrl+Shift+Return)")
        self.later_button.clicked.connect(self.show_send_later)
        self.send_button = QPushButton(icon("send"), "Send")
        self.send_button.setObjectName("primary")
        self.send_button.setToolTip("Send (Ctrl+Return)")
        self.send_button.clicked.connect(lambda: self.send())
        buttons = QHBoxLayout()
        buttons.addWidget(self.help_button)
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.discard_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.later_button)
        buttons.addWidget(self.send_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.error_bar)
        layout.addWidget(self.confirm_bar)
        layout.addWidget(self.header)
        layout.addWidget(bodies, 1)
        layout.addWidget(self.errors["body"])
        layout.addWidget(self.html_check)
        layout.addWidget(QLabel("Attachments:"))
        layout.addWidget(self.attachments)
        layout.addWidget(self.send_later_panel)
        layout.addWidget(self.errors["send_at"])
        layout.addWidget(self.help_scroll)
        layout.addLayout(buttons)

        for keys, slot in (
            ("Ctrl+Return", self.send),
            ("Ctrl+Enter", self.send),
            ("Ctrl+Shift+Return", self.show_send_later),
            ("Ctrl+S", self.save_draft),
            ("Ctrl+Shift+A", self.attachments.choose_files),
            ("F1", self.help_button.toggle),
            ("Ctrl+W", self.close),
            ("Escape", self._escape),
        ):
            QShortcut(QKeySequence(keys), self, slot, context=Qt.ShortcutContext.WindowShortcut)

    def _insert_reserved(self, address: str) -> None:
        text = self.to_field.text().rstrip().rstrip(",")
        self.to_field.setText(f"{text}, {address}" if text else address)

    def _connect_changes(self) -> None:
        for f in self.address_fields.values():
            f.edit.textEdited.connect(self._changed)
        self.subject_edit.textEdited.connect(self._changed)
        self.subject_edit.textChanged.connect(self._update_title)
        self.sender_field.changed.connect(self._changed)
        self.body_edit.textChanged.connect(self._changed)
        self.html_edit.textChanged.connect(self._changed)
        self.html_check.toggled.connect(self._changed)
        self.attachments.changed.connect(self._changed)

    def _changed(self, *_args: object) -> None:
        self.acknowledged.clear()
        self.autosave.changed()

    def _update_title(self, *_args: object) -> None:
        subject = self.subject_edit.text().strip()
        self.setWindowTitle(f"{subject or 'New message'} — mailgui")

    # -- senders ----------------------------------------------------------------------------------------
    def reload_senders(self) -> None:
        """Offer the authorized senders: exact addresses to pick, and ``@domain`` entries to complete."""
        patterns = self.queue.list_senders()
        self.header.set_senders(patterns)
        self.send_button.setEnabled(bool(patterns))
        self.later_button.setEnabled(bool(patterns))

    def check_sender(self) -> str | None:
        reason = self.sender_field.problem(final=True)
        if reason is not None:
            return reason
        mailbox = parse_mailbox(self.sender_field.text(), "sender")
        if not self.queue.is_authorized(mailbox.address):  # removed in Settings since the list was read
            return f"sender: {mailbox.address!r} is not an authorized sender; add it (or its @domain) in Settings"
        return None

    # -- fields -----------------------------------------------------------------------------------------
    def fields(self) -> DraftFields:
        return DraftFields(
            sender=self.sender_field.text(),
            to=self.to_field.text(),
            cc=self.cc_field.text(),
            bcc=self.bcc_field.text(),
            subject=self.subject_edit.text(),
            body=self.body_edit.toPlainText(),
            html=self.html_edit.toPlainText() if self.html_check.isChecked() else None,
            attachments=list(self.attachments.items),
        )

    def set_fields(self, f: DraftFields) -> None:
        if f.sender:
            self.sender_field.set_text(f.sender)
        self.to_field.setText(f.to)
        self.cc_field.setText(f.cc)
        self.bcc_field.setText(f.bcc)
        self.subject_edit.setText(f.subject)
        self.body_edit.setPlainText(f.body)
        self.html_check.setChecked(f.html is not None)
        self.html_edit.setPlainText(f.html or "")
        self.attachments.set_items(f.attachments)

    # -- errors -----------------------------------------------------------------------------------------
    def error_label(self, field: str) -> QLabel:
        if field in self.address_fields:
            return self.address_fields[field].error
        return self.errors[field]

    def show_error(self, message: str) -> None:
        """Show ``message`` next to the field it names (or at the top when it names none) and focus it."""
        field = error_field(message)
        if field in self.address_fields:
            self.address_fields[field].show_error(message)
            self.address_fields[field].edit.setFocus()
        elif field == "sender":
            self.sender_field.show_error(message)
            self.sender_field.setFocus()
        elif field is not None:
            label = self.errors[field]
            label.setText(message)
            label.show()
            focus = {"sender": self.sender_field, "subject": self.subject_edit, "body": self.body_edit}.get(field)
            if focus is not None:
                focus.setFocus()
        else:
            self.error_text.setText(message)
            self.error_bar.show()

    def clear_errors(self) -> None:
        self.error_bar.hide()
        for name, label in self.errors.items():
            if name != "attachments":
                label.hide()
        self.sender_field.show_error(None)
        for f in self.address_fields.values():
            f.show_error(None)

    # -- sending ----------------------------------------------------------------------------------------
    def send(self, send_at: float | None = None) -> int | None:
        """Check, then queue through the Mail API and close. Returns the queue id, or None if held back."""
        self.clear_errors()
        self.confirm_bar.hide()
        problems: list[str] = []
        reason = self.check_sender()
        if reason:
            problems.append(reason)
        for f in self.address_fields.values():
            found = f.check(final=True)
            if found:
                problems.append(found[0].reason)
        if not any(f.entries() for f in self.address_fields.values()):
            problems.append("to: add at least one recipient (To, Cc or Bcc)")
        if problems:
            for p in problems:
                self.show_error(p)
            return None
        fields = self.fields()
        public = len(self.to_field.entries()) + len(self.cc_field.entries())
        for check in pre_send_checks(fields, public):
            if check.key not in self.acknowledged:
                self._pending_send_at = send_at
                self.confirm_bar.ask(check)
                return None
        try:
            queue_id = queue_fields(self.queue, self.clock, fields, send_at)
        except Error as exc:
            log.info("compose: sending refused: %s", exc)
            self.show_error(str(exc))
            return None
        self.finished = True
        self.autosave.cancel()
        if self.draft_id is not None:
            self.queue.delete_draft(self.draft_id)
            self.draftDeleted.emit(self.draft_id)
        self.sent.emit(queue_id)
        self.close()
        return queue_id

    def _send_anyway(self, key: str) -> None:
        self.acknowledged.add(key)
        self.send(self._pending_send_at)

    def _go_back_to(self, check: PreSendCheck) -> None:
        target = {"subject": self.subject_edit, "to": self.to_field.edit, "attachments": self.attachments.list}
        widget = target.get(check.field)
        if widget is not None:
            widget.setFocus()

    def _fix(self, check: PreSendCheck) -> None:
        if check.key == "missing-attachment":
            self.attachments.choose_files()
        elif check.key == "many-public":
            everyone = [*self.to_field.entries(), *self.cc_field.entries(), *self.bcc_field.entries()]
            self.to_field.setText("")
            self.cc_field.setText("")
            self.bcc_field.setText(", ".join(everyone))
            self._changed()

    def show_send_later(self) -> None:
        self.send_later_panel.open_at(self.clock.now())

    def schedule(self, when: float | None = None) -> int | None:
        when = self.send_later_panel.when() if when is None else when
        if when <= self.clock.now():
            self.clear_errors()
            self.show_error("send later: pick a time in the future")
            return None
        return self.send(send_at=when)

    # -- drafts -----------------------------------------------------------------------------------------
    def save_draft(self) -> int | None:
        """Save what is in the window (not when empty and never saved). Returns the draft id."""
        self.autosave.cancel()
        fields = self.fields()
        if fields.is_empty() and self.draft_id is None:
            return None
        try:
            self.draft_id = self.queue.save_draft(fields, self.draft_id)
        except Error as exc:
            log.error("compose: draft not saved: %s", exc)
            self.show_error(f"draft: not saved: {exc}")
            return None
        self.status.setText(f"Draft saved at {datetime.fromtimestamp(self.clock.now()):%H:%M:%S}")
        self.draftSaved.emit(self.draft_id)
        return self.draft_id

    def discard(self) -> None:
        self.finished = True
        self.autosave.cancel()
        if self.draft_id is not None:
            self.queue.delete_draft(self.draft_id)
            self.draftDeleted.emit(self.draft_id)
        self.close()

    def _escape(self) -> None:
        if self.confirm_bar.isVisible():
            self.confirm_bar.go_back()
        elif self.send_later_panel.isVisible():
            self.send_later_panel.hide()
        else:
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.finished:
            self.save_draft()
        self.autosave.cancel()
        super().closeEvent(event)

    # -- drag and drop anywhere on the window attaches files -----------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.attachments.accept_drop(event)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(event, QDropEvent):
            if local_files(event):
                event.acceptProposedAction()
                return True
        elif event.type() == QEvent.Type.Drop and isinstance(event, QDropEvent) and local_files(event):
            return self.attachments.accept_drop(event)
        return super().eventFilter(obj, event)
