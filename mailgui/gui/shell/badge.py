"""The status bar's badge: bounces (refused during delivery or reported later by mail), complaints and deferrals
that are new since the user last looked; a click shows them.

What was seen is kept in the queue's settings table (counts of bounces and complaints, a time for deferrals), so a
badge the user has not looked at is still there after a restart, and one they have looked at stays gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QToolButton, QWidget

from mailgui.clock import Clock
from mailgui.errors import Error
from mailgui.gui.resources import icon
from mailgui.queue import Queue
from mailgui.queue.interface import QueueViews

log = logging.getLogger(__name__)

SEEN_BOUNCES_KEY = "gui.bounces_seen"  # raw queue setting: bounces the user has already looked at
SEEN_AT_KEY = "gui.deferrals_seen_at"  # raw queue setting: deferrals up to this time have been looked at
SEEN_COMPLAINTS_KEY = "gui.complaints_seen"  # raw queue setting: complaints the user has already looked at


@dataclass(frozen=True)
class Totals:
    """What the badge counts, in all (what is new is the part past the seen markers)."""

    bounces: int  # failed recipients (during delivery or reported later) and bounce reports that matched no message
    complaints: int  # complaint reports (a recipient marked the mail as spam)


def read_totals(queue: QueueViews) -> Totals:
    """Raises Error if the queue cannot be read. Cheap: indexed counts over recipients and the short reports table."""
    return Totals(
        bounces=queue.count_bounces() + queue.count_reports(unmatched=True, kind="bounce"),
        complaints=queue.count_reports(kind="complaint"),
    )


class NewMailBadge(QToolButton):
    """Shows "2 new bounces · 1 complaint · 1 deferred"; hidden when there is nothing new."""

    openRequested = Signal(str)  # the page to show: "bounces" if there are new bounces, else "queue"
    seenMarked = Signal()  # the markers moved: the counts are read again

    def __init__(self, queue: Queue, clock: Clock, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("badge")
        self.queue = queue
        self.clock = clock
        self.new_bounces = 0
        self.new_complaints = 0
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

    def show_new(self, totals: Totals, deferrals: int) -> None:
        """From a count: ``totals`` in all, ``deferrals`` since :meth:`seen_at`. Raises Error if the seen markers
        cannot be read."""
        self.new_bounces = self._new(SEEN_BOUNCES_KEY, totals.bounces)
        self.new_complaints = self._new(SEEN_COMPLAINTS_KEY, totals.complaints)
        self.new_deferrals = deferrals
        self._update()

    def _new(self, key: str, total: int) -> int:
        seen = int(self.queue.get_setting(key) or 0)
        if seen > total:  # messages or reports deleted: keep the baseline honest
            self.queue.set_setting(key, str(total))
        return max(0, total - seen)

    def open(self) -> None:
        self.openRequested.emit("bounces" if self.new_bounces or self.new_complaints else "queue")
        self.mark_seen()

    def mark_seen(self) -> None:
        try:
            totals = read_totals(self.queue)
            self.queue.set_setting(SEEN_BOUNCES_KEY, str(totals.bounces))
            self.queue.set_setting(SEEN_COMPLAINTS_KEY, str(totals.complaints))
            self.queue.set_setting(SEEN_AT_KEY, repr(self.clock.now()))
        except Error as exc:
            log.error("badge: could not record seen bounces, complaints and deferrals: %s", exc)
        self.new_deferrals = 0
        self.new_complaints = 0
        self.new_bounces = 0
        self._update()  # at once: the user just looked
        self.seenMarked.emit()

    def _update(self) -> None:
        parts = []
        if self.new_bounces:
            parts.append(f"{self.new_bounces} new bounce{'s' if self.new_bounces != 1 else ''}")
        if self.new_complaints:
            parts.append(f"{self.new_complaints} complaint{'s' if self.new_complaints != 1 else ''}")
        if self.new_deferrals:
            parts.append(f"{self.new_deferrals} deferred")
        self.setText(" · ".join(parts))
        self.setVisible(bool(parts))
