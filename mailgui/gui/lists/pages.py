"""A short list read a page at a time (offset + limit), in plain Python: the bounces, the mailbox, the drafts.

These lists are far shorter than the queue, so offset paging with a small cache of recently used pages is enough.
A cheap signature (the count and the newest entry) tells whether a refresh needs to read anything at all. No Qt:
:class:`~mailgui.gui.lists.paged_model.PagedTableModel` adapts it for a table view.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Resets(Protocol):
    """Told around a refresh that replaces the list, as a Qt model must hear it."""

    def rows_resetting(self) -> None: ...
    def rows_reset(self) -> None: ...


class PagedList(Generic[T]):
    PAGE = 200
    MAX_PAGES = 20

    def __init__(
        self,
        count: Callable[[], int],
        read: Callable[[int, int], list[T]],
        signature: Callable[[], object],
        events: Resets,
    ):
        """``read(offset, limit)`` gives a page; ``signature()`` is something cheap that changes whenever the
        list does (e.g. its count and newest entry), or None when that cannot be told."""
        self._count_all = count
        self._read = read
        self._signature_of = signature
        self.events = events
        self.count = 0
        self._pages: OrderedDict[int, list[T]] = OrderedDict()
        self._signature: object = None
        self.fetches = 0  # page reads, for tests

    def refresh(self) -> bool:
        """Read the list again if it changed (announced as a reset); False if nothing changed."""
        signature = self._signature_of()
        if signature is not None and signature == self._signature:
            return False
        self.events.rows_resetting()
        self._pages.clear()
        self.count = self._count_all()
        self._signature = signature
        self.events.rows_reset()
        return True

    def record(self, row: int) -> T | None:
        """The entry on ``row``, reading its page if need be; None past the end (the list shrank under us)."""
        if not 0 <= row < self.count:
            return None
        page_no, at = divmod(row, self.PAGE)
        page = self._pages.get(page_no)
        if page is None:
            page = self._read(page_no * self.PAGE, self.PAGE)
            self.fetches += 1
            self._pages[page_no] = page
            while len(self._pages) > self.MAX_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        return page[at] if at < len(page) else None
