"""Where the queue file and the app's log file live."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_db_path() -> Path:
    """``MAILGUI_DB`` if set (read at each call, so a script can point anywhere), else the user data dir."""
    env = os.environ.get("MAILGUI_DB")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path("mailgui", appauthor=False) / "queue.sqlite3"


def default_log_path() -> Path:
    """The desktop app's log file (a GUI started from a launcher has no stderr anyone reads): ``MAILGUI_LOG`` if
    set, else in the user log dir."""
    env = os.environ.get("MAILGUI_LOG")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_log_path("mailgui", appauthor=False) / "mailgui.log"
