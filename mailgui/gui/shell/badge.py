"""The status bar's badge: bounces and deferrals that are new since the user last looked; a click shows them.

What was seen is kept in the queue's settings table (a count of bounces and a time for deferrals), so a badge
the user has not looked at is still there after a restart, and one they have looked at stays gone.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QToolButton, QWidget

from mailgui.clock import Clock
from mailgui.errors import Error
from mailgui.gui.resources import icon
from mailgui.queue import Queue

log = logging.getLogger(__name__)

SEEN_BOUNCES_KEY = "gui.bounces_seen"  # raw queue setting: bounces the user has already looked at
SEEN_AT_KEY = "gui.deferrals_seen_at"  # raw queue setting: deferrals up to this time have been looked at


class NewMailBadge(QToolButton):
    """Shows "2 new bounces · 1 deferred"; hidden when there is nothing new."""

    openRequested = Signal(str)  # the page to show: "bounces" if there are new bounces, else "queue"
    seenMarked = Signal()  # the markers moved: the counts are read again

    def __init__(self, queue: Queue, clock: Clock, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("badge")
        self.queue = queue
        self.clock = clock
        self.new_bounces = 0
        self.new_deferrals = 0
        self.setIcon(icon("badge"))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setAutoRaise(True)
        self.setToolTip("New since you last looked; click to see them (Ctrl+Shift+S marks them seen)")
        self.clicked.connect(self.open)
        self.hide()

    def seen_at(self) -> float:
        """Deferrals that ended before this time were seen."""
        try:
            return float(self.queue.get_setting(SEEN_AT_KEY) or 0)
        except (Error, ValueError) as exc:
            log.error("badge: reading the seen-deferrals marker failed: %s", exc)
            return 0.0

    def show_new(self, bounces: int, deferrals: int) -> None:
        """From a count: ``bounces`` failed recipients in all, ``deferrals`` since :meth:`seen_at`.
        Raises Error if the seen marker cannot be read."""
        seen = int(self.queue.get_setting(SEEN_BOUNCES_KEY) or 0)
        self.new_bounces = max(0, bounces - seen)
        self.new_deferrals = deferrals
        if seen > bounces:  # messages deleted: keep the baseline honest
            self.queue.set_setting(SEEN_BOUNCES_KEY, str(bounces))
        self._update()

    def open(self) -> None:
        self.openRequested.emit("bounces" if self.new_bounces else "queue")
        self.mark_seen()

    def mark_seen(self) -> None:
        try:
            self.queue.set_setting(SEEN_BOUNCES_KEY, str(self.queue.count_bounces()))
            self.queue.set_setting(SEEN_AT_KEY, repr(self.clock.now()))
        except Error as exc:
            log.error("badge: could not record seen bounces and deferrals: %s", exc)
        self.new_deferrals = 0
        self.new_bounces = 0
        self._update()  # at once: the user just looked
        self.seenMarked.emit()

    def _update(self) -> None:
        parts = []
        if self.new_bounces:
            parts.append(f"{self.new_bounces} new bounce{'s' if self.new_bounces != 1 else ''}")
        if self.new_deferrals:
            parts.append(f"{self.new_deferrals} deferred")
        self.setText(" · ".join(parts))
        self.setVisible(bool(parts))
