"""The compose window: write a message, check it, and queue it through the same Mail API scripts use."""

from __future__ import annotations

import logging
from datetime import datetime

from PySide6.QtCore import QDateTime, QEvent, QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mailgui import mail
from mailgui.addresses import parse_mailbox
from mailgui.attachments import to_attachments
from mailgui.clock import Clock
from mailgui.errors import Error
from mailgui.gui.compose.address_field import AddressField, split_entries
from mailgui.gui.compose.attachment_list import AttachmentList, local_files
from mailgui.gui.compose.autosave import AUTOSAVE_DELAY, DraftAutosave
from mailgui.gui.compose.checks import PreSendCheck, error_field, pre_send_checks
from mailgui.gui.compose.reserved_addresses import reserved_addresses_html
from mailgui.gui.compose.sender_field import SenderField
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


def _error_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setProperty("role", "fieldError")
    label.setWordWrap(True)
    label.hide()
    return label


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
        self.confirm_bar, self.confirm_text, confirm_row = _bar("confirmBar")
        self.confirm_text.setObjectName("confirmText")
        self.confirm_fix = QPushButton(self.confirm_bar)
        self.confirm_fix.setObjectName("confirmFix")
        self.confirm_yes = QPushButton("Send anyway", self.confirm_bar)
        self.confirm_yes.setObjectName("confirmYes")
        self.confirm_no = QPushButton("Go back", self.confirm_bar)
        for b in (self.confirm_fix, self.confirm_yes, self.confirm_no):
            confirm_row.addWidget(b)
        self.confirm_yes.clicked.connect(self._confirm_yes)
        self.confirm_no.clicked.connect(self._confirm_no)
        self.confirm_fix.clicked.connect(self._confirm_fix)
        self._current_check: PreSendCheck | None = None

        self.sender_field = SenderField()
        self.sender_field.setObjectName("senderField")
        self.no_senders = QLabel('No authorized senders yet. <a href="settings">Add one in Settings</a> to send mail.')
        self.no_senders.setObjectName("noSendersLink")
        self.no_senders.setProperty("role", "fieldError")
        self.no_senders.linkActivated.connect(lambda _l: self.openSettingsRequested.emit())
        self.no_senders.hide()
        self.errors: dict[str, QLabel] = {"sender": self.sender_field.error}
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
        self.errors["subject"] = _error_label("subjectError")
        subject_col = QVBoxLayout()
        subject_col.setSpacing(2)
        subject_col.addWidget(self.subject_edit)
        subject_col.addWidget(self.errors["subject"])

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("&From:", sender_col)
        form.addRow("&To:", self.to_field)
        form.addRow("&Cc:", self.cc_field)
        form.addRow("&Bcc:", self.bcc_field)
        form.addRow("&Subject:", subject_col)
        for label_widget in (form.labelForField(sender_col), form.labelForField(subject_col)):
            if isinstance(label_widget, QLabel):
                label_widget.setBuddy(
                    self.sender_field.choice if label_widget.text() == "&From:" else self.subject_edit
                )

        self.body_edit = QPlainTextEdit()
        self.body_edit.setObjectName("bodyEdit")
        self.body_edit.setPlaceholderText("Plain-text message")
        self.body_edit.viewport().installEventFilter(self)  # file drops on the body attach, not paste a path
        self.errors["body"] = _error_label("bodyError")
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

        self.send_later_panel = QFrame()
        self.send_later_panel.setObjectName("noticeBar")
        later_row = QHBoxLayout(self.send_later_panel)
        later_row.setContentsMargins(8, 6, 8, 6)
        later_row.addWidget(QLabel("Send at:"))
        self.send_at_edit = QDateTimeEdit()
        self.send_at_edit.setObjectName("sendAtEdit")
        self.send_at_edit.setCalendarPopup(True)
        self.send_at_edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        later_row.addWidget(self.send_at_edit)
        self.schedule_button = QPushButton(icon("send-later"), "Schedule")
        self.schedule_button.setObjectName("scheduleButton")
        self.schedule_button.clicked.connect(self.schedule)
        later_row.addWidget(self.schedule_button)
        later_cancel = QPushButton("Cancel")
        later_cancel.clicked.connect(self.send_later_panel.hide)
        later_row.addWidget(later_cancel)
        later_row.addStretch(1)
        self.errors["send_at"] = _error_label("sendAtError")
        self.send_later_panel.hide()

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
        layout.addLayout(form)
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
        self.sender_field.set_senders(patterns)
        self.no_senders.setVisible(not patterns)
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
                self._ask(check, send_at)
                return None
        message = mail.EmailMessage(sender=fields.sender, subject=fields.subject, body=fields.body)
        try:
            for name in ("to", "cc", "bcc"):
                entries = split_entries(getattr(fields, name))
                if entries:
                    setattr(message, name, entries)
            if fields.html is not None and fields.html.strip():
                message.html = fields.html
            if fields.attachments:
                message.attachments = to_attachments(fields.attachments)
            # The same call scripts make; the queue is the one this window shows (and its clock).
            mail.open_queue(self.queue.path, clock=self.clock)
            queue_id = message.send(db=self.queue.path, send_at=send_at)
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

    def _ask(self, check: PreSendCheck, send_at: float | None) -> None:
        self._current_check = check
        self._pending_send_at = send_at
        self.confirm_text.setText(check.text)
        self.confirm_fix.setText(check.fix_label or "")
        self.confirm_fix.setVisible(check.fix_label is not None)
        self.confirm_bar.show()
        self.confirm_yes.setFocus()

    def _confirm_yes(self) -> None:
        if self._current_check is not None:
            self.acknowledged.add(self._current_check.key)
        self.confirm_bar.hide()
        self.send(self._pending_send_at)

    def _confirm_no(self) -> None:
        self.confirm_bar.hide()
        check = self._current_check
        if check is not None:
            target = {"subject": self.subject_edit, "to": self.to_field.edit, "attachments": self.attachments.list}
            widget = target.get(check.field)
            if widget is not None:
                widget.setFocus()

    def _confirm_fix(self) -> None:
        check = self._current_check
        self.confirm_bar.hide()
        if check is None:
            return
        if check.key == "missing-attachment":
            self.attachments.choose_files()
        elif check.key == "many-public":
            everyone = [*self.to_field.entries(), *self.cc_field.entries(), *self.bcc_field.entries()]
            self.to_field.setText("")
            self.cc_field.setText("")
            self.bcc_field.setText(", ".join(everyone))
            self._changed()

    def show_send_later(self) -> None:
        start = int(self.clock.now() + 3600) // 60 * 60
        self.send_at_edit.setDateTime(QDateTime.fromSecsSinceEpoch(start))
        self.send_later_panel.show()
        self.send_at_edit.setFocus()

    def schedule(self) -> int | None:
        when = float(self.send_at_edit.dateTime().toSecsSinceEpoch())
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
            self._confirm_no()
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
