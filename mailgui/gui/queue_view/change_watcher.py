"""Notice changes other processes make to the queue (a script calling send_mail, a headless worker).

SQLite bumps ``PRAGMA data_version`` whenever another connection commits; reading it is cheap, so polling it a
few times a second costs nothing and needs no cooperation from the writer.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from mailgui.errors import StorageError
from mailgui.queue import Queue

log = logging.getLogger(__name__)


class ChangeWatcher(QObject):
    """Emits ``changed`` (at most once per poll) after another connection committed to the queue file."""

    changed = Signal()
    failed = Signal(str)  # the queue file could not be read (busy, gone, corrupt): said once per spell

    def __init__(self, queue: Queue, parent: Any = None, interval_ms: int = 400):
        super().__init__(parent)
        self.queue = queue
        self._version = self._read()
        self._failing = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def _read(self) -> int | None:
        try:
            return self.queue.data_version()
        except Exception as exc:  # an environmental fault (locked, closed file): report it, keep polling
            if not getattr(self, "_failing", False):
                log.warning("queue file %s: cannot check for changes: %s", self.queue.path, exc)
                self.failed.emit(str(StorageError(f"queue file {self.queue.path}: {exc}")))
            self._failing = True
            return None

    def poll(self) -> None:
        version = self._read()
        if version is None:
            return
        self._failing = False
        if version != self._version:
            self._version = version
            self.changed.emit()

    def stop(self) -> None:
        self._timer.stop()

    def start(self) -> None:
        self._version = self._read()
        self._timer.start()

    @property
    def interval(self) -> int:
        return self._timer.interval()
