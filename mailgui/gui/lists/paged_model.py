"""The short lists' table model (bounces, mailbox, drafts): a thin Qt adapter over
:class:`~mailgui.gui.lists.pages.PagedList`.

Subclasses say how to count and read the list in the queue, what signals a change, and how to show an entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from mailgui.clock import Clock, SystemClock
from mailgui.gui.lists.pages import PagedList
from mailgui.gui.widgets.plain import plain_tooltip
from mailgui.queue import Queue

T = TypeVar("T")
_Index = QModelIndex | QPersistentModelIndex

RECORD_ROLE = int(Qt.ItemDataRole.UserRole) + 10


class PagedTableModel(QAbstractTableModel, Generic[T]):
    COLUMNS: tuple[str, ...] = ()

    def __init__(self, queue: Queue, clock: Clock | None = None, parent: Any = None):
        super().__init__(parent)
        self.queue = queue
        self.clock: Clock = clock or SystemClock()
        self.pages = PagedList(self.count, self.read, self.signature, self)
        self.refresh()

    # -- for subclasses ------------------------------------------------------------------------------------
    # Each subclass defines these three (Shiboken's metaclass does not mix with ABCMeta, so they are declared
    # for the type checker only).
    if TYPE_CHECKING:

        def count(self) -> int: ...

        def read(self, offset: int, limit: int) -> list[T]: ...

        def cell(self, record: T, column: int, role: int) -> Any: ...

    def signature(self) -> object:
        """Something cheap that changes whenever the list does (e.g. its count and newest id); None: unknown."""
        return None

    # -- the list ------------------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Read the list again if it changed (views are told with a reset); False if nothing changed."""
        return self.pages.refresh()

    def record(self, row: int) -> T | None:
        return self.pages.record(row)

    def rows_resetting(self) -> None:
        self.beginResetModel()

    def rows_reset(self) -> None:
        self.endResetModel()

    # -- Qt model API --------------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.pages.count

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.COLUMNS):
            return self.COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        rec = self.pages.record(index.row())
        if rec is None:
            return "…" if role == Qt.ItemDataRole.DisplayRole else None
        if role == RECORD_ROLE:
            return rec
        value = self.cell(rec, index.column(), role)
        if role == Qt.ItemDataRole.ToolTipRole and isinstance(value, str):
            return plain_tooltip(value) or None  # a subject, an address, a relay's words: text, never markup
        return value
