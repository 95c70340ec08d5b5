"""Where the queue file lives."""

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
