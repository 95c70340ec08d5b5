"""Compose drafts, saved beside the queue so they survive a crash or restart."""

from __future__ import annotations

import sqlite3


class DraftStore:
    conn: sqlite3.Connection
