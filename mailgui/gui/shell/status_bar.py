"""The main window's status bar: what sending is doing (an icon and a word, coloured by state) on the left; the
badge of new bounces and deferrals and the counts by state on the right; passing messages ("queued") between."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from mailgui.gui.resources import icon
from mailgui.gui.shell.badge import NewMailBadge
from mailgui.gui.shell.counts import CountsLabel
from mailgui.gui.shell.worker_status import WorkerStatus
from mailgui.gui.widgets.plain import plain_label, plain_tooltip


class StatusBar(QStatusBar):
    def __init__(self, badge: NewMailBadge, counts: CountsLabel, parent: QWidget | None = None):
        super().__init__(parent)
        self.worker_icon = QLabel()
        self.worker_label = plain_label()  # may quote a relay's reply
        self.worker_label.setObjectName("workerState")
        self.addWidget(self.worker_icon)
        self.addWidget(self.worker_label)
        self.addPermanentWidget(badge)
        self.addPermanentWidget(counts)
        # A label's least width is its whole text: with new bounces, complaints and deferrals in the badge the
        # counts beside it would hold an 800-pixel window wider than the screen. They may shrink (cut off, whole in
        # their tooltip) instead.
        counts.setMinimumWidth(120)
        self.worker_label.setMinimumWidth(80)

    def show_worker_status(self, status: WorkerStatus) -> None:
        self.worker_icon.setPixmap(icon(status.icon_name()).pixmap(16, 16))
        self.worker_label.setText(status.text())
        self.worker_label.setToolTip(plain_tooltip(status.reason or status.text()))
        self.worker_label.setProperty("state", status.state)  # the style sheet colours it by state
        self.worker_label.style().unpolish(self.worker_label)
        self.worker_label.style().polish(self.worker_label)
