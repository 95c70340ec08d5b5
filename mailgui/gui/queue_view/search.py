"""Searches of the queue run in a thread of their own, so typing in the search box never freezes the window.

A search (``LIKE`` on subject, sender and recipients) scans the whole table: over a million messages that takes
a second or more. :class:`BackgroundSearch` finds every matching id once, on its own connection to the queue
file, and hands the list back to the GUI thread through a queued signal; the model then reads pages by id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from mailgui.errors import Error
from mailgui.queue import Queue

log = logging.getLogger(__name__)


class BackgroundSearch(QObject):
    """Runs one search at a time; starting another interrupts the one in progress."""

    # (token from start(), list of ids newest first | a count (count_before) | the Error that stopped it)
    finished = Signal(int, object)

    def __init__(self, path: str, parent: Any = None):
        super().__init__(parent)
        self.path = path
        self._token = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._running: dict[int, Queue] = {}

    def start(self, statuses: Sequence[str] | None, search: str, *, count_before: int | None = None) -> int:
        """Find the matching ids (newest first); or, with ``count_before``, only count the matches older than it
        (a state filter over a million rows takes tens of ms to count: too long for the GUI thread)."""
        with self._lock:
            self._token += 1
            token = self._token
            for q in self._running.values():
                q.conn.interrupt()  # thread-safe in sqlite3: the old scan stops at its next step
        thread = threading.Thread(
            target=self._run, args=(token, statuses, search, count_before), name=f"mailgui-search-{token}", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()
        return token

    def _run(self, token: int, statuses: Sequence[str] | None, search: str, count_before: int | None) -> None:
        result: list[int] | int | Exception
        try:
            with Queue(self.path) as q:
                with self._lock:
                    if token != self._token:
                        return  # already superseded
                    self._running[token] = q
                try:
                    if count_before is None:
                        result = q.message_ids(statuses, search)
                    else:
                        result = q.count_messages(statuses, search or None, before_id=count_before)
                finally:
                    with self._lock:
                        self._running.pop(token, None)
        except Exception as exc:  # sqlite3 errors too: the thread must report, never die silently
            if token == self._token:
                log.warning("searching the queue for %r failed: %s", search, exc)
            result = exc if isinstance(exc, Error) else Error(f"search: {exc}")
        if token != self._token:
            return
        try:
            self.finished.emit(token, result)  # queued to the GUI thread: the receiver lives there
        except RuntimeError:  # the view was destroyed while we searched (the app is closing): nobody to tell
            log.debug("search for %r finished after its view was gone", search)

    def wait(self, timeout: float = 10.0) -> bool:
        """Interrupt what runs and join the threads (on close, and in tests). False if one is still going."""
        with self._lock:
            self._token += 1
            for q in self._running.values():
                q.conn.interrupt()
        for t in self._threads:
            t.join(timeout)
        alive = any(t.is_alive() for t in self._threads)
        self._threads = [t for t in self._threads if t.is_alive()]
        return not alive
