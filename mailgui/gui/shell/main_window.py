"""The main window: Queue / Bounces / Mailbox / Drafts / Settings, the worker's state, and compose windows."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mailgui.clock import Clock
from mailgui.errors import Error
from mailgui.gui.compose.autosave import AUTOSAVE_DELAY
from mailgui.gui.compose.edit_as_new import fields_of_message
from mailgui.gui.compose.window import ComposeWindow
from mailgui.gui.lists.drafts import DraftsView
from mailgui.gui.queue_view.view import QueueView
from mailgui.gui.resources import icon
from mailgui.gui.settings.pane import ConnectionTester, SettingsPane
from mailgui.gui.shell.counts import CountsReader
from mailgui.gui.shell.worker_status import WorkerStatus
from mailgui.gui.tasks import TaskSet
from mailgui.queue import Queue, Status
from mailgui.queue.drafts import DraftFields

log = logging.getLogger(__name__)

PAGES = ("queue", "bounces", "mailbox", "drafts", "settings")
_PAGE_TITLES = {
    "queue": ("Queue", "queue", "Ctrl+1"),
    "bounces": ("Bounces", "bounces", "Ctrl+2"),
    "mailbox": ("Mailbox", "mailbox", "Ctrl+3"),
    "drafts": ("Drafts", "drafts", "Ctrl+4"),
    "settings": ("Settings", "settings", "Ctrl+,"),
}
_SEEN_BOUNCES_KEY = "gui.bounces_seen"  # raw queue setting: bounces the user has already looked at
_SEEN_AT_KEY = "gui.deferrals_seen_at"  # raw queue setting: deferrals up to this time have been looked at


def _optional_view(module: str, cls: str, *args: object, **kwargs: object) -> QWidget | None:
    """The other views land separately; until one does, its page says so instead of failing the window."""
    try:
        view_cls = getattr(importlib.import_module(f"mailgui.gui.{module}"), cls)
    except ImportError as exc:
        log.warning("%s is not available: %s", cls, exc)
        return None
    widget: QWidget = view_cls(*args, **kwargs)
    return widget


def _optional_view_object(module: str, cls: str, *args: object, **kwargs: object) -> Any:
    try:
        obj_cls = getattr(importlib.import_module(f"mailgui.gui.{module}"), cls)
    except (ImportError, AttributeError):
        return None
    return obj_cls(*args, **kwargs)


def _placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setProperty("role", "hint")
    return label


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
        autosave_delay: float | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.queue = queue
        self.clock = clock
        self.autosave_delay = autosave_delay
        self.compose_windows: list[ComposeWindow] = []
        self.worker_status = WorkerStatus("stopped")
        self.tasks = TaskSet("main window")
        self.counts_reader = CountsReader(queue.path)
        self._counts_task: asyncio.Task[None] | None = None
        self._counts_dirty = False
        self._closing = False
        self.new_bounces = 0
        self.new_deferrals = 0
        self._pending_ids: set[int] = set()
        self.setWindowTitle(f"mailgui — {queue.path}")
        self.setWindowIcon(icon("app"))
        self.resize(1200, 760)

        self.queue_view = _optional_view("queue_view.view", "QueueView", queue, clock=clock)
        self.bounces_view = _optional_view("lists.bounces", "BouncesView", queue, clock=clock)
        self.mailbox_view = _optional_view("lists.mailbox", "MailboxView", queue, clock=clock)
        self.drafts_view = DraftsView(queue)
        self.drafts_view.openDraft.connect(self.open_draft)
        self.settings_pane = SettingsPane(queue, tester)
        self.settings_pane.sendersChanged.connect(self.reload_senders)
        if self.queue_view is not None and hasattr(self.queue_view, "editAsNew"):
            self.queue_view.editAsNew.connect(self.edit_as_new)

        self.pages = QStackedWidget()
        self.page_widgets: dict[str, QWidget] = {
            "queue": self.queue_view or _placeholder("The queue view is not available in this build."),
            "bounces": self.bounces_view or _placeholder("The bounces view is not available in this build."),
            "mailbox": self.mailbox_view or _placeholder("The mailbox view is not available in this build."),
            "drafts": self.drafts_view,
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

        self.drafts_notice = QFrame()
        self.drafts_notice.setObjectName("noticeBar")
        notice_row = QHBoxLayout(self.drafts_notice)
        notice_row.setContentsMargins(8, 4, 8, 4)
        self.drafts_notice_text = QLabel()
        self.drafts_notice_text.setObjectName("draftsNoticeText")
        show_drafts = QPushButton(icon("drafts"), "Show drafts")
        show_drafts.setObjectName("showDraftsButton")
        show_drafts.clicked.connect(lambda: self.show_page("drafts"))
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(self.drafts_notice.hide)
        notice_row.addWidget(icon_label("drafts"))
        notice_row.addWidget(self.drafts_notice_text, 1)
        notice_row.addWidget(show_drafts)
        notice_row.addWidget(dismiss)
        self.drafts_notice.hide()

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

        self._build_actions()
        self._build_status_bar()
        self._changes_timer = QTimer(self)
        self._changes_timer.setSingleShot(True)
        self._changes_timer.setInterval(250)  # coalesce bursts of worker events into one refresh
        self._changes_timer.timeout.connect(self._flush_changes)
        self.watcher = _optional_view_object("queue_view.change_watcher", "ChangeWatcher", queue, parent=self)
        if self.watcher is not None:
            # Another process (a script, a headless worker) or the worker's own connection committed.
            self.watcher.changed.connect(self._external_change)
        self.sidebar.setCurrentRow(0)
        self.refresh_counts()
        self.offer_drafts()

    # -- actions, menus, toolbar ------------------------------------------------------------------------
    def _action(
        self,
        text: str,
        keys: str | QKeySequence.StandardKey | None,
        slot: Callable[[], object],
        icon_name: str | None = None,
        tip: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
        shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')}" + (f" ({shortcut})" if shortcut else ""))
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.new_action = self._action("&New message…", QKeySequence.StandardKey.New, self.new_message, "compose")
        self.pause_action = self._action("&Pause sending", "Ctrl+P", self.toggle_pause, "pause")
        self.pause_action.setObjectName("pauseAction")
        self.refresh_action = self._action("&Refresh", QKeySequence.StandardKey.Refresh, self.refresh_all, "refresh")
        self.quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit, self.close)
        self.badge_action = self._action("Mark new bounces and deferrals &seen", "Ctrl+Shift+S", self.mark_seen)
        self.page_actions: dict[str, QAction] = {}
        for name in PAGES:
            title, icon_name, keys = _PAGE_TITLES[name]
            self.page_actions[name] = self._action(f"&{title}", keys, partial(self.show_page, name), icon_name)
        self.shortcuts_action = self._action("&Keyboard shortcuts", "F1", self.show_shortcuts, "help")

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

        tools = self.addToolBar("Main")
        tools.setObjectName("mainToolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools.addAction(self.new_action)
        tools.addAction(self.pause_action)
        tools.addAction(self.refresh_action)
        tools.addSeparator()
        tools.addAction(self.page_actions["settings"])

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.worker_icon = QLabel()
        self.worker_label = QLabel()
        self.worker_label.setObjectName("workerState")
        self.counts_label = QLabel()
        self.counts_label.setObjectName("countsLabel")
        self.badge = QToolButton()
        self.badge.setObjectName("badge")
        self.badge.setIcon(icon("badge"))
        self.badge.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.badge.setAutoRaise(True)
        self.badge.clicked.connect(self.open_badge)
        self.badge.hide()
        bar.addWidget(self.worker_icon)
        bar.addWidget(self.worker_label)
        bar.addPermanentWidget(self.badge)
        bar.addPermanentWidget(self.counts_label)
        self.set_worker_status(self.worker_status)

    # -- pages ------------------------------------------------------------------------------------------
    def show_page(self, name: str) -> None:
        self.sidebar.setCurrentRow(PAGES.index(name))

    def current_page(self) -> str:
        return PAGES[self.pages.currentIndex()]

    def _page_changed(self, row: int) -> None:
        if row < 0:
            return
        self.pages.setCurrentIndex(row)
        name = PAGES[row]
        if name == "bounces":
            self.mark_seen()
        elif name == "drafts":
            self.drafts_view.reload()
            self.drafts_notice.hide()
        page = self.page_widgets[name]
        if hasattr(page, "refresh") and name != "settings":
            page.refresh()

    def refresh_all(self) -> None:
        for name in ("queue", "bounces", "mailbox"):
            page = self.page_widgets[name]
            if hasattr(page, "refresh"):
                page.refresh()
        self.drafts_view.reload()
        self.refresh_counts()

    # -- worker state and live changes ------------------------------------------------------------------
    def set_worker_status(self, status: WorkerStatus) -> None:
        self.worker_status = status
        self.worker_icon.setPixmap(icon(status.icon_name()).pixmap(16, 16))
        self.worker_label.setText(status.text())
        self.worker_label.setToolTip(status.reason or status.text())
        self.worker_label.setProperty("state", status.state)
        self.worker_label.style().unpolish(self.worker_label)
        self.worker_label.style().polish(self.worker_label)
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
        ids = list(ids)
        if self.queue_view is not None and hasattr(self.queue_view, "notify_changed"):
            self.queue_view.notify_changed(ids)
        self._pending_ids.update(ids)
        if not self._changes_timer.isActive():
            self._changes_timer.start()

    def _external_change(self) -> None:
        if not self._changes_timer.isActive():
            self._changes_timer.start()

    def _flush_changes(self) -> None:
        self._pending_ids.clear()  # new deferrals are counted with the counts, from the queue itself
        if self.bounces_view is not None and hasattr(self.bounces_view, "refresh"):
            self.bounces_view.refresh()
        if self.mailbox_view is not None and hasattr(self.mailbox_view, "refresh"):
            self.mailbox_view.refresh()
        self.refresh_counts()

    def refresh_counts(self) -> None:
        """Update the counts and the badge: on the counts thread when the loop runs, else here (no loop: tests)."""
        if self._closing:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            try:
                q = self.queue
                self._show_counts(q.counts_by_status(), q.count_bounces(), q.count_deferred_since(self._seen_at()))
            except Error as exc:
                self._counts_failed(exc)
            return
        if self._counts_task is not None and not self._counts_task.done():
            self._counts_dirty = True  # read again when the read in flight returns
            return
        self._counts_task = self.tasks.start(self._read_counts())

    async def _read_counts(self) -> None:
        while True:
            self._counts_dirty = False
            try:
                counts, bounces, deferrals = await self.counts_reader.read(self._seen_at())
            except Error as exc:
                self._counts_failed(exc)
                return
            if self._closing:
                return
            self._show_counts(counts, bounces, deferrals)
            if not self._counts_dirty:
                return

    def _counts_failed(self, exc: Error) -> None:
        self.counts_label.setText(f"Queue file problem: {exc}")
        log.error("main window: counts failed: %s", exc)

    def _seen_at(self) -> float:
        """Deferrals that ended before this time were seen (kept in the queue, so it survives a restart)."""
        try:
            return float(self.queue.get_setting(_SEEN_AT_KEY) or 0)
        except (Error, ValueError) as exc:
            log.error("main window: reading the seen-deferrals marker failed: %s", exc)
            return 0.0

    def _show_counts(self, counts: dict[str, int], bounces: int, deferrals: int) -> None:
        try:
            seen = int(self.queue.get_setting(_SEEN_BOUNCES_KEY) or 0)
        except Error as exc:
            self._counts_failed(exc)
            return
        order = (Status.QUEUED, Status.SENDING, Status.DEFERRED, Status.SENT, Status.BOUNCED, Status.CANCELLED)
        parts = [f"{counts.get(s, 0)} {s}" for s in order if counts.get(s, 0) or s in (Status.QUEUED, Status.SENT)]
        self.counts_label.setText(" · ".join(parts))
        self.new_bounces = max(0, bounces - seen)
        self.new_deferrals = deferrals
        if seen > bounces:  # messages deleted: keep the baseline honest
            self.queue.set_setting(_SEEN_BOUNCES_KEY, str(bounces))
        self._update_badge()

    def _update_badge(self) -> None:
        parts = []
        if self.new_bounces:
            parts.append(f"{self.new_bounces} new bounce{'s' if self.new_bounces != 1 else ''}")
        if self.new_deferrals:
            parts.append(f"{self.new_deferrals} deferred")
        self.badge.setText(" · ".join(parts))
        self.badge.setToolTip("New since you last looked; click to see them (Ctrl+Shift+S marks them seen)")
        self.badge.setVisible(bool(parts))

    def open_badge(self) -> None:
        self.show_page("bounces" if self.new_bounces else "queue")
        self.mark_seen()

    def mark_seen(self) -> None:
        try:
            self.queue.set_setting(_SEEN_BOUNCES_KEY, str(self.queue.count_bounces()))
            self.queue.set_setting(_SEEN_AT_KEY, repr(self.clock.now()))
        except Error as exc:
            log.error("main window: could not record seen bounces and deferrals: %s", exc)
        self.new_deferrals = 0
        self.new_bounces = 0
        self._update_badge()  # at once: the user just looked
        self.refresh_counts()

    # -- compose ----------------------------------------------------------------------------------------
    def new_message(self, fields: DraftFields | None = None, draft_id: int | None = None) -> ComposeWindow:
        for w in self.compose_windows:
            if draft_id is not None and w.draft_id == draft_id:
                w.show()
                w.raise_()
                w.activateWindow()
                return w
        delay = AUTOSAVE_DELAY if self.autosave_delay is None else self.autosave_delay
        window = ComposeWindow(self.queue, self.clock, fields=fields, draft_id=draft_id, autosave_delay=delay)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.sent.connect(self._sent)
        window.draftSaved.connect(lambda _id: self.drafts_view.reload())
        window.draftDeleted.connect(lambda _id: self.drafts_view.reload())
        window.openSettingsRequested.connect(self._open_settings_from_compose)
        window.destroyed.connect(lambda _o=None, w=window: self._forget(w))
        self.compose_windows.append(window)
        window.show()
        window.activateWindow()
        return window

    def _forget(self, window: ComposeWindow) -> None:
        if window in self.compose_windows:
            self.compose_windows.remove(window)

    def _sent(self, queue_id: int) -> None:
        self.statusBar().showMessage(f"Message {queue_id} queued for delivery", 5000)
        if self.queue_view is not None and hasattr(self.queue_view, "refresh"):
            self.queue_view.refresh()
        self.notify_changed([queue_id])
        self.messageQueued.emit(queue_id)

    def _open_settings_from_compose(self) -> None:
        self.show_page("settings")
        self.settings_pane.senders.new_edit.setFocus()
        self.raise_()
        self.activateWindow()

    def reload_senders(self) -> None:
        for w in self.compose_windows:
            w.reload_senders()

    def open_draft(self, draft_id: int) -> ComposeWindow | None:
        try:
            draft = self.queue.get_draft(draft_id)
        except Error as exc:
            self.statusBar().showMessage(str(exc), 8000)
            self.drafts_view.reload()
            return None
        return self.new_message(draft.fields, draft.id)

    def edit_as_new(self, message_id: int) -> ComposeWindow | None:
        """Compose prefilled from a queued message (a new message: a fresh Message-ID when sent)."""
        try:
            fields = fields_of_message(self.queue.get_message(message_id))
        except Error as exc:
            self.statusBar().showMessage(f"Edit as new: {exc}", 8000)
            return None
        return self.new_message(fields)

    def offer_drafts(self) -> None:
        """Drafts left from an earlier run (or a crash) are offered again."""
        n = self.queue.count_drafts()
        if n:
            self.drafts_notice_text.setText(
                f"You have {n} unsent draft{'s' if n != 1 else ''} from earlier. They are kept in Drafts."
            )
            self.drafts_notice.show()

    def show_shortcuts(self) -> None:
        lines = []
        for action in self.actions():
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if keys:
                lines.append(f"<tr><td><b>{keys}</b></td><td>{action.text().replace('&', '')}</td></tr>")
        compose = (
            "<tr><td><b>Ctrl+Return</b></td><td>Send (compose window)</td></tr>"
            "<tr><td><b>Ctrl+Shift+Return</b></td><td>Send later</td></tr>"
            "<tr><td><b>Ctrl+S</b></td><td>Save draft / save settings</td></tr>"
            "<tr><td><b>Ctrl+Shift+A</b></td><td>Attach files</td></tr>"
            "<tr><td><b>Ctrl+T</b></td><td>Test connection (settings)</td></tr>"
        )
        self._shortcuts = QLabel(f"<table cellspacing='6'>{''.join(lines)}{compose}</table>")
        self._shortcuts.setWindowTitle("Keyboard shortcuts — mailgui")
        self._shortcuts.setWindowFlag(Qt.WindowType.Window)
        self._shortcuts.setParent(self, Qt.WindowType.Window)
        self._shortcuts.setContentsMargins(16, 16, 16, 16)
        self._shortcuts.show()

    # -- closing ----------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self._closing = True
        if self.watcher is not None:
            self.watcher.stop()
        if isinstance(self.queue_view, QueueView):
            self.queue_view.shutdown()  # a page gets no close event of its own: its watcher would poll on
        self._changes_timer.stop()
        if self._counts_task is not None:
            # A count scheduled before the close may not have begun: it would submit to the thread ended below.
            self._counts_task.cancel()
        self.counts_reader.close()  # ends the counts thread and its connection
        for w in list(self.compose_windows):
            w.close()  # each saves its draft
        event.accept()
        self.closed.emit()


def icon_label(name: str) -> QLabel:
    label = QLabel()
    label.setPixmap(icon(name).pixmap(16, 16))
    return label
