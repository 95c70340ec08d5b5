"""A read-only table model over a paged list read (offset + limit), for the short lists (bounces, mailbox).

The queue table has its own, smarter model (queue_model.py); these lists are far shorter, so offset paging with
a small page cache is enough. Subclasses say how to count, how to read a page and how to show a record.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

T = TypeVar("T")
_Index = QModelIndex | QPersistentModelIndex

RECORD_ROLE = int(Qt.ItemDataRole.UserRole) + 10


class PagedTableModel(QAbstractTableModel, Generic[T]):
    PAGE = 200
    MAX_PAGES = 20
    COLUMNS: tuple[str, ...] = ()

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._count = 0
        self._pages: OrderedDict[int, list[T]] = OrderedDict()
        self._signature: object = None
        self.fetches = 0

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

    # -- reading -------------------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Read the list again if it changed (views are told with a reset); False if nothing changed."""
        signature = self.signature()
        if signature is not None and signature == self._signature:
            return False
        self.beginResetModel()
        self._pages.clear()
        self._count = self.count()
        self._signature = signature
        self.endResetModel()
        return True

    def record(self, row: int) -> T | None:
        if not 0 <= row < self._count:
            return None
        page_no, at = divmod(row, self.PAGE)
        page = self._pages.get(page_no)
        if page is None:
            page = self.read(page_no * self.PAGE, self.PAGE)
            self.fetches += 1
            self._pages[page_no] = page
            while len(self._pages) > self.MAX_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        return page[at] if at < len(page) else None

    # -- Qt model API --------------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

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
        rec = self.record(index.row())
        if rec is None:
            return "…" if role == Qt.ItemDataRole.DisplayRole else None
        if role == RECORD_ROLE:
            return rec
        return self.cell(rec, index.column(), role)
