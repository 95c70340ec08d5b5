"""Drafts saved a short time after the last change, on the injected clock (tests advance a FakeClock)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from mailgui.clock import Clock

AUTOSAVE_DELAY = 3.0  # seconds after the last change


class DraftAutosave(QObject):
    """Saves a short time after the last change. Time comes from the injected clock; a coarse timer polls it,
    so a test advances a FakeClock and calls :meth:`poll` instead of waiting."""

    def __init__(
        self, clock: Clock, save: Callable[[], object], delay: float = AUTOSAVE_DELAY, parent: QObject | None = None
    ):
        super().__init__(parent)
        self.clock = clock
        self.delay = delay
        self._save = save
        self._changed_at: float | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(500)
        self.timer.timeout.connect(self.poll)

    @property
    def pending(self) -> bool:
        return self._changed_at is not None

    def changed(self) -> None:
        self._changed_at = self.clock.now()
        if not self.timer.isActive():
            self.timer.start()

    def poll(self) -> bool:
        """Save if the last change is at least ``delay`` old; True if it saved."""
        if self._changed_at is None or self.clock.now() - self._changed_at < self.delay:
            return False
        self.cancel()
        self._save()
        return True

    def cancel(self) -> None:
        self._changed_at = None
        self.timer.stop()
