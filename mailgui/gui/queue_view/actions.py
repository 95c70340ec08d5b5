"""What the queue view does to the selected messages: retry now, cancel, delete (asks first), edit as new.

:class:`QueueActions` acts for a view it knows only through :class:`SelectionHost` (the selection, a notice
line, a refresh). Each message changes in its own commit, so many are done a chunk per turn of the event loop,
never all at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from mailgui.errors import Error
from mailgui.gui.widgets.confirm import open_confirm
from mailgui.queue import Queue

ACTION_LIMIT = 10_000  # selected messages one action takes (each is read, then changed in its own commit)
ACTION_CHUNK = 100  # messages changed per turn of the event loop


class SelectionHost(Protocol):
    """What the actions need of the view they act for."""

    def selected_count(self) -> int: ...
    def selected_ids(self) -> list[int]: ...
    def current_id(self) -> int | None: ...
    def notify_changed(self, ids: Iterable[int]) -> None: ...
    def refresh(self) -> None: ...
    def show_notice(self, text: str, error: bool = False) -> None: ...


class QueueActions(QObject):
    """Retry, cancel, delete and edit-as-new for the messages selected in ``host``; ``parent`` owns the
    confirmation box and the chunks still to do (they stop if it goes)."""

    editAsNew = Signal(int)  # the user wants a new message prefilled from this one

    def __init__(self, queue: Queue, host: SelectionHost, parent: QWidget):
        super().__init__(parent)
        self.queue = queue
        self.host = host
        self.parent_widget = parent
        self.confirm_box: QMessageBox | None = None

    def retry_selected(self) -> None:
        self._each(self.queue.requeue, "Retrying", "retried")

    def cancel_selected(self) -> None:
        self._each(self.queue.cancel, "Cancelled", "cancelled")

    def _ids_for_action(self) -> list[int]:
        n = self.host.selected_count()
        if n > ACTION_LIMIT:
            self.host.show_notice(
                f"{n:,} messages are selected; an action takes at most {ACTION_LIMIT:,} at a time. "
                "Filter the list (by state, or search) to narrow it.",
                error=True,
            )
            return []
        return self.host.selected_ids()

    def _each(self, act: Callable[[int], None], done_word: str, verb: str) -> None:
        """Apply ``act`` to the selected messages, a chunk per turn of the event loop (each is a commit)."""
        ids = self._ids_for_action()
        if ids:
            self._run_chunks(act, ids, 0, [], [], done_word, verb)

    def _run_chunks(
        self,
        act: Callable[[int], None],
        ids: list[int],
        at: int,
        done: list[int],
        refused: list[str],
        done_word: str,
        verb: str,
    ) -> None:
        chunk = ids[at : at + ACTION_CHUNK]
        for mid in chunk:
            try:
                act(mid)
                done.append(mid)
            except Error as exc:
                refused.append(str(exc))
        self.host.notify_changed(chunk)
        at += len(chunk)
        if at < len(ids):
            self.host.show_notice(f"{done_word} … {at:,} of {len(ids):,}")
            QTimer.singleShot(0, self, lambda: self._run_chunks(act, ids, at, done, refused, done_word, verb))
            return
        text = f"{done_word} {len(done)} message{'s' if len(done) != 1 else ''}." if done else ""
        if refused:
            more = f" (and {len(refused) - 3} more)" if len(refused) > 3 else ""
            text += f" {len(refused)} could not be {verb}: " + "; ".join(refused[:3]) + more
        self.host.show_notice(text.strip(), error=bool(refused))

    def delete_selected(self) -> None:
        """Ask first (without blocking the event loop: the box is opened, not exec'd), then delete."""
        ids = self._ids_for_action()
        if not ids:
            return
        n = len(ids)
        self.confirm_box = open_confirm(
            self.parent_widget,
            "Delete messages",
            f"Delete {n} message{'s' if n != 1 else ''} from the queue for good?",
            "Messages being sent right now are kept. This cannot be undone.",
            "Delete",
            lambda result: self._delete_confirmed(result, ids),
        )

    def _delete_confirmed(self, result: int, ids: list[int]) -> None:
        box, self.confirm_box = self.confirm_box, None
        if box is not None:
            box.deleteLater()
        if result != QMessageBox.StandardButton.Yes:
            return
        try:
            deleted = self.queue.delete(ids)
        except Error as exc:
            self.host.show_notice(str(exc), error=True)
            return
        kept = len(ids) - deleted
        text = f"Deleted {deleted} message{'s' if deleted != 1 else ''}."
        if kept:
            text += f" {kept} being sent right now {'was' if kept == 1 else 'were'} kept."
        self.host.refresh()
        self.host.show_notice(text)

    def edit_selected_as_new(self) -> None:
        mid = self.host.current_id()
        if mid is None:
            ids = self.host.selected_ids()
            mid = ids[0] if ids else None
        if mid is not None:
            self.editAsNew.emit(mid)
