"""PagedList, the short lists in plain Python: pages read on demand, a bounded page cache, and a refresh that
reads nothing when the list's signature has not changed. Driven without Qt."""

from __future__ import annotations

import subprocess
import sys

from mailgui.gui.lists.pages import PagedList


class Source:
    """A list of numbers that records its reads, standing in for a queue table."""

    def __init__(self, n: int) -> None:
        self.items = list(range(n))
        self.reads: list[tuple[int, int]] = []
        self.counts = 0

    def count(self) -> int:
        self.counts += 1
        return len(self.items)

    def read(self, offset: int, limit: int) -> list[int]:
        self.reads.append((offset, limit))
        return self.items[offset : offset + limit]

    def signature(self) -> object:
        return (len(self.items), self.items[-1] if self.items else None)


class Resets:
    def __init__(self) -> None:
        self.events: list[str] = []

    def rows_resetting(self) -> None:
        self.events.append("resetting")

    def rows_reset(self) -> None:
        self.events.append("reset")


def make(source: Source) -> tuple[PagedList[int], Resets]:
    resets = Resets()
    pages = PagedList(source.count, source.read, source.signature, resets)
    pages.PAGE, pages.MAX_PAGES = 10, 3
    pages.refresh()
    return pages, resets


def test_the_list_is_plain_python_importing_no_qt() -> None:
    code = "import sys, mailgui.gui.lists.pages; print(sorted(m for m in sys.modules if m.startswith('PySide6')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_entries_are_read_a_page_at_a_time_and_cached() -> None:
    source = Source(95)
    pages, _ = make(source)
    assert pages.count == 95 and source.reads == []
    assert [pages.record(r) for r in (0, 9, 10, 94)] == [0, 9, 10, 94]
    assert source.reads == [(0, 10), (10, 10), (90, 10)]
    assert pages.record(95) is None and pages.record(-1) is None  # past either end: nothing read


def test_the_page_cache_keeps_the_most_recently_used_pages() -> None:
    source = Source(100)
    pages, _ = make(source)
    for row in (0, 10, 20, 0, 30):  # page 0 used again: page 1 is the oldest when page 3 comes
        pages.record(row)
    source.reads.clear()
    pages.record(5)
    pages.record(15)
    assert source.reads == [(10, 10)]


def test_a_refresh_reads_again_only_when_the_signature_changed() -> None:
    source = Source(30)
    pages, resets = make(source)
    pages.record(0)
    resets.events.clear()
    assert pages.refresh() is False and resets.events == [] and source.counts == 1
    source.items.append(30)
    assert pages.refresh() is True and resets.events == ["resetting", "reset"]
    assert pages.count == 31
    source.reads.clear()
    assert pages.record(0) == 0 and source.reads == [(0, 10)]  # the cache was dropped


def test_a_page_that_came_back_short_gives_no_entry_for_its_missing_rows() -> None:
    source = Source(20)
    pages, _ = make(source)
    del source.items[15:]  # deleted elsewhere, before the list noticed
    assert pages.record(12) == 12
    assert pages.record(17) is None
