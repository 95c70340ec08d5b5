"""The bar above the pages that offers drafts left from an earlier run (or a crash)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from mailgui.gui.resources import icon


class DraftsNotice(QFrame):
    showDrafts = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("noticeBar")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        drafts_icon = QLabel()
        drafts_icon.setPixmap(icon("drafts").pixmap(16, 16))
        self.text_label = QLabel()
        self.text_label.setObjectName("draftsNoticeText")
        show = QPushButton(icon("drafts"), "Show drafts")
        show.setObjectName("showDraftsButton")
        show.clicked.connect(self.showDrafts)
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(self.hide)
        row.addWidget(drafts_icon)
        row.addWidget(self.text_label, 1)
        row.addWidget(show)
        row.addWidget(dismiss)
        self.hide()

    def offer(self, count: int) -> None:
        if count:
            self.text_label.setText(
                f"You have {count} unsent draft{'s' if count != 1 else ''} from earlier. They are kept in Drafts."
            )
            self.show()
