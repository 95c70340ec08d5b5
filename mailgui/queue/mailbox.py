"""The built-in relay's local mailbox: what arrived, kept beside the queue."""

from __future__ import annotations

import sqlite3


class MailboxStore:
    conn: sqlite3.Connection
