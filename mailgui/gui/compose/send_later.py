"""The compose window's "Send later" panel: a date and time, and Schedule."""

from __future__ import annotations

from PySide6.QtCore import QDateTime, Signal
from PySide6.QtWidgets import QDateTimeEdit, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from mailgui.gui.resources import icon


class SendLaterPanel(QFrame):
    scheduleRequested = Signal(float)  # the time picked (seconds since the epoch)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("noticeBar")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 8, 6)
        row.addWidget(QLabel("Send at:"))
        self.send_at_edit = QDateTimeEdit()
        self.send_at_edit.setObjectName("sendAtEdit")
        self.send_at_edit.setCalendarPopup(True)
        self.send_at_edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        row.addWidget(self.send_at_edit)
        self.schedule_button = QPushButton(icon("send-later"), "Schedule")
        self.schedule_button.setObjectName("scheduleButton")
        self.schedule_button.clicked.connect(lambda: self.scheduleRequested.emit(self.when()))
        row.addWidget(self.schedule_button)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.hide)
        row.addWidget(cancel)
        row.addStretch(1)
        self.hide()

    def open_at(self, now: float) -> None:
        """Show the panel, offering the whole minute an hour from ``now``."""
        start = int(now + 3600) // 60 * 60
        self.send_at_edit.setDateTime(QDateTime.fromSecsSinceEpoch(start))
        self.show()
        self.send_at_edit.setFocus()

    def when(self) -> float:
        return float(self.send_at_edit.dateTime().toSecsSinceEpoch())
