"""The compose windows open now: one per draft, each told when the authorized senders change, and each closed
(saving its draft) when the app ends."""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import QObject, Qt, Signal

from mailgui.clock import Clock
from mailgui.gui.compose.autosave import AUTOSAVE_DELAY
from mailgui.gui.compose.edit_as_new import fields_of_message
from mailgui.gui.compose.window import ComposeWindow
from mailgui.queue import Queue
from mailgui.queue.drafts import DraftFields


class ComposeWindows(QObject):
    """Iterating gives the open windows."""

    sent = Signal(int)  # a window queued this message
    draftsChanged = Signal()  # a draft was saved or deleted
    settingsRequested = Signal()  # a window asks for the senders' settings (no sender authorized yet)

    def __init__(
        self, queue: Queue, clock: Clock, autosave_delay: float = AUTOSAVE_DELAY, parent: QObject | None = None
    ):
        super().__init__(parent)
        self.queue = queue
        self.clock = clock
        self.autosave_delay = autosave_delay
        self._windows: list[ComposeWindow] = []

    def __iter__(self) -> Iterator[ComposeWindow]:
        return iter(list(self._windows))

    def __len__(self) -> int:
        return len(self._windows)

    def open(self, fields: DraftFields | None = None, draft_id: int | None = None) -> ComposeWindow:
        """A new window, or the one already open on this draft, brought to the front."""
        for w in self._windows:
            if draft_id is not None and w.draft_id == draft_id:
                w.show()
                w.raise_()
                w.activateWindow()
                return w
        window = ComposeWindow(
            self.queue, self.clock, fields=fields, draft_id=draft_id, autosave_delay=self.autosave_delay
        )
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.sent.connect(self.sent)
        window.draftSaved.connect(lambda _id: self.draftsChanged.emit())
        window.draftDeleted.connect(lambda _id: self.draftsChanged.emit())
        window.openSettingsRequested.connect(self.settingsRequested)
        window.destroyed.connect(lambda _o=None, w=window: self._forget(w))
        self._windows.append(window)
        window.show()
        window.activateWindow()
        return window

    def open_draft(self, draft_id: int) -> ComposeWindow:
        """Raises Error if the draft cannot be read (deleted meanwhile, or the file failed)."""
        draft = self.queue.get_draft(draft_id)
        return self.open(draft.fields, draft.id)

    def open_as_new(self, message_id: int) -> ComposeWindow:
        """Prefilled from a queued message (a new message: a fresh Message-ID when sent). Raises Error."""
        return self.open(fields_of_message(self.queue.get_message(message_id)))

    def reload_senders(self) -> None:
        for w in self._windows:
            w.reload_senders()

    def close_all(self) -> None:
        for w in list(self._windows):
            w.close()  # each saves its draft

    def _forget(self, window: ComposeWindow) -> None:
        if window in self._windows:
            self._windows.remove(window)
