"""MainWindow puts the pages together: a bounce opens its message in the queue, the badge follows the counts,
and closing stops every page's polling."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from mailgui.bounces import parse_report
from mailgui.clock import FakeClock
from mailgui.gui.shell.main_window import MainWindow
from mailgui.queue import Queue
from tests.gui.queue_data import attempt, enqueue, fill_varied
from tests.reports import arf, dsn


def test_show_in_queue_from_the_bounces_page_selects_the_message_in_the_queue(
    qtbot: QtBot, queue: Queue, clock: FakeClock
) -> None:
    v = fill_varied(queue, clock)
    window = MainWindow(queue, clock)
    qtbot.addWidget(window)
    window.show()
    window.show_page("bounces")
    window.bounces_view.table.selectRow(0)
    window.bounces_view.open_action.trigger()
    assert window.current_page() == "queue"
    assert window.queue_view.current_id() == v.bounced
    assert window.queue_view.selected_ids() == [v.bounced]
    window.close()


def test_the_badge_counts_what_is_new_and_looking_at_bounces_marks_them_seen(
    qtbot: QtBot, queue: Queue, clock: FakeClock
) -> None:
    fill_varied(queue, clock)  # one bounced recipient, one deferred message
    window = MainWindow(queue, clock)  # no event loop: the counts are read at once
    qtbot.addWidget(window)
    window.show()
    assert window.badge.text() == "1 new bounce · 1 deferred"
    assert "1 bounced" in window.counts_label.text() and "1 deferred" in window.counts_label.text()
    window.show_page("bounces")
    assert not window.badge.isVisible()
    window.close()


def test_closing_the_window_stops_the_queue_pages_polling(qtbot: QtBot, queue: Queue, clock: FakeClock) -> None:
    window = MainWindow(queue, clock)
    qtbot.addWidget(window)
    window.show()
    assert window.queue_view.watcher._timer.isActive()
    window.close()
    assert not window.queue_view.watcher._timer.isActive()


def test_the_suppressions_page_has_a_sidebar_entry_and_ctrl_5(qtbot: QtBot, queue: Queue, clock: FakeClock) -> None:
    queue.add_suppression("gone@example.org")
    window = MainWindow(queue, clock)
    qtbot.addWidget(window)
    window.show()
    titles = [window.sidebar.item(i).text() for i in range(window.sidebar.count())]
    assert "Suppressions" in titles
    item = window.sidebar.item(titles.index("Suppressions"))
    assert item.toolTip() == "Suppressions (Ctrl+5)" and not item.icon().isNull()
    assert window.page_actions["suppressions"].shortcut().toString() == "Ctrl+5"
    window.page_actions["suppressions"].trigger()
    assert window.current_page() == "suppressions"
    assert window.suppressions_view.model.rowCount() == 1
    window.close()


def test_the_badge_counts_late_bounces_complaints_and_unmatched_bounce_reports(
    qtbot: QtBot, queue: Queue, clock: FakeClock
) -> None:
    queue.add_sender("@example.com")
    mid = enqueue(queue, clock, 1, to=["late@example.org", "angry@example.org"], subject="News")
    attempt(
        queue,
        clock,
        mid,
        [("late@example.org", "delivered", 250, "2.0.0 Ok"), ("angry@example.org", "delivered", 250, "2.0.0 Ok")],
    )
    window = MainWindow(queue, clock)
    qtbot.addWidget(window)
    window.show()
    assert not window.badge.isVisible()  # all delivered: nothing new

    message_id = queue.get_message(mid).summary.message_id
    for raw in (
        dsn(message_id, [("late@example.org", "5.1.1", "550 5.1.1 User unknown")]),
        arf(message_id, "angry@example.org"),
        dsn("<not-ours@elsewhere.example>", [("who@example.net", "5.1.1", "550 5.1.1 User unknown")]),
    ):
        queue.record_report(raw, parse_report(raw), "test")
    window.counts_label.refresh()
    assert window.badge.text() == "2 new bounces · 1 complaint"
    window.badge.click()
    assert window.current_page() == "bounces" and not window.badge.isVisible()
    window.counts_label.refresh()
    assert not window.badge.isVisible()  # seen: stays gone
    window.close()


def test_the_window_fits_800_by_600_with_a_long_badge_and_counts(qtbot: QtBot, queue: Queue, clock: FakeClock) -> None:
    fill_varied(queue, clock)
    for n in range(3):
        raw = arf(f"<elsewhere-{n}@example.net>", f"x{n}@example.org")
        queue.record_report(raw, parse_report(raw), "test")
    window = MainWindow(queue, clock)
    qtbot.addWidget(window)
    window.resize(800, 600)
    window.show()
    assert window.badge.text() == "1 new bounce · 3 complaints · 1 deferred"
    for name in ("queue", "bounces", "suppressions", "mailbox", "drafts", "settings"):
        window.show_page(name)
        assert window.minimumSizeHint().width() <= 800, name
        assert window.minimumSizeHint().height() <= 600, name
    assert window.size().width() == 800
    assert window.counts_label.toolTip() == window.counts_label.text()
    window.close()
