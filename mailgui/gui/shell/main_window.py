"""The main window: the pages (Queue / Bounces / Mailbox / Drafts / Suppressions / Settings) beside a sidebar, the menus and
toolbar, the status bar, and the worker's changes brought to the pages. Compose windows, the badge, the counts,
the shortcut help and Help → About are objects of their own (``compose_windows.py``, ``badge.py``, ``counts.py``,
``shortcuts.py``, ``about.py``); this module puts them together."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from mailgui.clock import Clock
from mailgui.errors import Error
from mailgui.gui.compose.autosave import AUTOSAVE_DELAY
from mailgui.gui.compose.window import ComposeWindow
from mailgui.gui.lists.bounces import BouncesView
from mailgui.gui.lists.drafts import DraftsView
from mailgui.gui.lists.mailbox import MailboxView
from mailgui.gui.lists.suppressions import SuppressionsView
from mailgui.gui.queue_view.view import QueueView
from mailgui.gui.resources import icon
from mailgui.gui.settings.pane import ConnectionTester, SettingsPane
from mailgui.gui.shell.about import AboutWindow
from mailgui.gui.shell.badge import NewMailBadge
from mailgui.gui.shell.compose_windows import ComposeWindows
from mailgui.gui.shell.counts import CountsLabel
from mailgui.gui.shell.drafts_notice import DraftsNotice
from mailgui.gui.shell.shortcuts import shortcuts_window
from mailgui.gui.shell.status_bar import StatusBar
from mailgui.gui.shell.worker_status import WorkerStatus
from mailgui.gui.tasks import TaskSet
from mailgui.queue import Queue
from mailgui.queue.drafts import DraftFields

log = logging.getLogger(__name__)

PAGES = ("queue", "bounces", "mailbox", "drafts", "suppressions", "settings")
_PAGE_TITLES = {
    "queue": ("Queue", "queue", "Ctrl+1"),
    "bounces": ("Bounces", "bounces", "Ctrl+2"),
    "mailbox": ("Mailbox", "mailbox", "Ctrl+3"),
    "drafts": ("Drafts", "drafts", "Ctrl+4"),
    "suppressions": ("Suppressions", "suppressions", "Ctrl+5"),
    "settings": ("Settings", "settings", "Ctrl+,"),
}
CHANGES_DELAY_MS = 250  # worker events and other processes' commits within this are shown together


class MainWindow(QMainWindow):
    """Closing it ends the app: :attr:`closed` tells the main coroutine, which stops the worker."""

    closed = Signal()
    pauseRequested = Signal(bool)  # True: pause sending, False: resume
    messageQueued = Signal(int)  # a compose window queued this message: the worker can look now

    def __init__(
        self,
        queue: Queue,
        clock: Clock,
        *,
        tester: ConnectionTester | None = None,
        autosave_delay: float | None = None,  # seconds; None: the default
        log_file: Path | None = None,  # the file this run logs to, shown in Help → About
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.queue = queue
        self.clock = clock
        self.worker_status = WorkerStatus("stopped")
        self.tasks = TaskSet("main window")
        self._shortcuts: QLabel | None = None
        self.log_file = log_file
        self._about: AboutWindow | None = None
        self.setWindowTitle(f"mailgui — {queue.path}")
        self.setWindowIcon(icon("app"))
        self.resize(1200, 760)

        self.queue_view = QueueView(queue, clock=clock)
        self.queue_view.editAsNew.connect(self.edit_as_new)
        self.bounces_view = BouncesView(queue, clock=clock)
        self.bounces_view.openMessage.connect(self.show_message)
        self.mailbox_view = MailboxView(queue, clock=clock)
        self.drafts_view = DraftsView(queue)
        self.drafts_view.openDraft.connect(self.open_draft)
        self.suppressions_view = SuppressionsView(queue, clock=clock)
        self.settings_pane = SettingsPane(queue, tester)
        self.compose_windows = ComposeWindows(queue, clock, autosave_delay or AUTOSAVE_DELAY, self)
        self.compose_windows.sent.connect(self._sent)
        self.compose_windows.draftsChanged.connect(self.drafts_view.refresh)
        self.compose_windows.settingsRequested.connect(self._open_settings_from_compose)
        self.settings_pane.sendersChanged.connect(self.compose_windows.reload_senders)

        self.pages = QStackedWidget()
        self.page_widgets: dict[str, QWidget] = {
            "queue": self.queue_view,
            "bounces": self.bounces_view,
            "mailbox": self.mailbox_view,
            "drafts": self.drafts_view,
            "suppressions": self.suppressions_view,
            "settings": self.settings_pane,
        }
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(170)
        self.sidebar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for name in PAGES:
            title, icon_name, keys = _PAGE_TITLES[name]
            item = QListWidgetItem(icon(icon_name), title)
            item.setToolTip(f"{title} ({keys})")
            self.sidebar.addItem(item)
            self.pages.addWidget(self.page_widgets[name])
        self.sidebar.currentRowChanged.connect(self._page_changed)

        self.drafts_notice = DraftsNotice()
        self.drafts_notice.showDrafts.connect(lambda: self.show_page("drafts"))
        right = QWidget()
        right_col = QVBoxLayout(right)
        right_col.setContentsMargins(6, 6, 6, 0)
        right_col.addWidget(self.drafts_notice)
        right_col.addWidget(self.pages, 1)
        central = QWidget()
        central_row = QHBoxLayout(central)
        central_row.setContentsMargins(0, 0, 0, 0)
        central_row.setSpacing(0)
        central_row.addWidget(self.sidebar)
        central_row.addWidget(right, 1)
        self.setCentralWidget(central)

        self.badge = NewMailBadge(queue, clock)
        self.badge.openRequested.connect(self.show_page)
        self.counts_label = CountsLabel(queue, self.badge, self.tasks)
        self.badge.seenMarked.connect(self.counts_label.refresh)
        self.status_bar = StatusBar(self.badge, self.counts_label)
        self.setStatusBar(self.status_bar)
        self._build_actions()
        self.set_worker_status(self.worker_status)

        self._changes_timer = QTimer(self)
        self._changes_timer.setSingleShot(True)
        self._changes_timer.setInterval(CHANGES_DELAY_MS)
        self._changes_timer.timeout.connect(self._flush_changes)
        # Another process (a script, a headless worker) or the worker's own connection committed.
        self.queue_view.watcher.changed.connect(self._changes_soon)
        self.sidebar.setCurrentRow(0)
        self.counts_label.refresh()
        self.drafts_notice.offer(queue.count_drafts())

    # -- actions, menus, toolbar ------------------------------------------------------------------------
    def _action(
        self,
        text: str,
        keys: str | QKeySequence.StandardKey | None,
        slot: Callable[[], object],
        icon_name: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
        shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(text.replace("&", "").rstrip("…") + (f" ({shortcut})" if shortcut else ""))
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.new_action = self._action("&New message…", QKeySequence.StandardKey.New, self.new_message, "compose")
        self.pause_action = self._action("&Pause sending", "Ctrl+P", self.toggle_pause, "pause")
        self.pause_action.setObjectName("pauseAction")
        self.refresh_action = self._action("&Refresh", QKeySequence.StandardKey.Refresh, self.refresh_all, "refresh")
        self.quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit, self.close)
        self.badge_action = self._action(
            "Mark new bounces, complaints and deferrals &seen", "Ctrl+Shift+S", self.badge.mark_seen
        )
        self.page_actions: dict[str, QAction] = {}
        for name in PAGES:
            title, icon_name, keys = _PAGE_TITLES[name]
            self.page_actions[name] = self._action(f"&{title}", keys, partial(self.show_page, name), icon_name)
        self.shortcuts_action = self._action("&Keyboard shortcuts", "F1", self.show_shortcuts, "help")
        self.about_action = self._action("&About mailgui", None, self.show_about)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.new_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = menu.addMenu("&View")
        for name in PAGES:
            view_menu.addAction(self.page_actions[name])
        view_menu.addSeparator()
        view_menu.addAction(self.refresh_action)
        sending = menu.addMenu("&Sending")
        sending.addAction(self.pause_action)
        sending.addAction(self.badge_action)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.about_action)

        tools = self.addToolBar("Main")
        tools.setObjectName("mainToolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools.addAction(self.new_action)
        tools.addAction(self.pause_action)
        tools.addAction(self.refresh_action)
        tools.addSeparator()
        tools.addAction(self.page_actions["settings"])

    def show_shortcuts(self) -> None:
        if self._shortcuts is None:
            self._shortcuts = shortcuts_window(self.actions(), self)
        self._shortcuts.show()
        self._shortcuts.raise_()

    def show_about(self) -> None:
        if self._about is None:
            self._about = AboutWindow(Path(self.queue.path), self.log_file, self)
        self._about.show()
        self._about.raise_()

    # -- pages ------------------------------------------------------------------------------------------
    def show_page(self, name: str) -> None:
        self.sidebar.setCurrentRow(PAGES.index(name))

    def current_page(self) -> str:
        return PAGES[self.pages.currentIndex()]

    def show_message(self, message_id: int) -> None:
        """The queue page, with this message selected (if the queue's filter shows it)."""
        self.show_page("queue")
        self.queue_view.select_ids([message_id], current=message_id)

    def _page_changed(self, row: int) -> None:
        if row < 0:
            return
        self.pages.setCurrentIndex(row)
        name = PAGES[row]
        if name == "queue":
            self.queue_view.refresh()
        elif name == "bounces":
            self.badge.mark_seen()
            self.bounces_view.refresh()
        elif name == "mailbox":
            self.mailbox_view.refresh()
        elif name == "drafts":
            self.drafts_view.refresh()
            self.drafts_notice.hide()
        elif name == "suppressions":
            self.suppressions_view.refresh()

    def refresh_all(self) -> None:
        self.queue_view.refresh()
        self.bounces_view.refresh()
        self.mailbox_view.refresh()
        self.drafts_view.refresh()
        self.suppressions_view.refresh()
        self.counts_label.refresh()

    # -- worker state and live changes ------------------------------------------------------------------
    def set_worker_status(self, status: WorkerStatus) -> None:
        self.worker_status = status
        self.status_bar.show_worker_status(status)
        paused = status.state == "paused"
        failed = status.state == "failed"  # sending stopped on its own: the same action starts it again
        label = "Start sending" if failed else "Resume sending" if paused else "Pause sending"
        self.pause_action.setText("&" + label)
        self.pause_action.setIcon(icon("resume" if paused or failed else "pause"))
        self.pause_action.setToolTip(label + " (Ctrl+P)")
        self.pause_action.setEnabled(status.state != "stopped")

    def toggle_pause(self) -> None:
        self.pauseRequested.emit(self.worker_status.state not in ("paused", "failed"))

    def notify_changed(self, ids: Iterable[int]) -> None:
        """Called from the worker's events (in the loop, never from another thread): ids whose state changed."""
        self.queue_view.notify_changed(ids)
        self._changes_soon()

    def _changes_soon(self) -> None:
        if not self._changes_timer.isActive():
            self._changes_timer.start()

    def _flush_changes(self) -> None:
        # The queue view coalesces its own updates; new bounces and deferrals are counted from the queue itself.
        self.bounces_view.refresh()
        self.mailbox_view.refresh()
        if self.current_page() == "suppressions":  # read whole: only while it is in view (and when shown)
            self.suppressions_view.refresh()
        self.counts_label.refresh()

    # -- compose ----------------------------------------------------------------------------------------
    def new_message(self, fields: DraftFields | None = None, draft_id: int | None = None) -> ComposeWindow:
        return self.compose_windows.open(fields, draft_id)

    def open_draft(self, draft_id: int) -> ComposeWindow | None:
        try:
            return self.compose_windows.open_draft(draft_id)
        except Error as exc:
            self.status_bar.showMessage(str(exc), 8000)
            self.drafts_view.refresh()
            return None

    def edit_as_new(self, message_id: int) -> ComposeWindow | None:
        """Compose prefilled from a queued message (a new message: a fresh Message-ID when sent)."""
        try:
            return self.compose_windows.open_as_new(message_id)
        except Error as exc:
            self.status_bar.showMessage(f"Edit as new: {exc}", 8000)
            return None

    def _sent(self, queue_id: int) -> None:
        self.status_bar.showMessage(f"Message {queue_id} queued for delivery", 5000)
        self.queue_view.refresh()
        self.notify_changed([queue_id])
        self.messageQueued.emit(queue_id)

    def _open_settings_from_compose(self) -> None:
        self.show_page("settings")
        self.settings_pane.senders.new_edit.setFocus()
        self.raise_()
        self.activateWindow()

    # -- closing ----------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self._changes_timer.stop()
        self.queue_view.shutdown()  # a page gets no close event of its own: its watcher would poll on
        self.counts_label.close_reader()
        self.compose_windows.close_all()  # each saves its draft
        event.accept()
        self.closed.emit()
