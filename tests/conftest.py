"""Shared fixtures: a fresh SQLite queue file in tmp_path, a fake clock, an in-process keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from mailgui.clock import FakeClock
from mailgui.queue import Queue
from tests.test_settings import MemoryKeyring

# smtp_server (a real SMTP server on a free 127.0.0.1 port) and smtp_tls, for every test package; dovecot and
# imap_mailbox (a private Dovecot, started only by the tests that use it); and a test fails if it logs a WARNING
# or worse it did not declare with @pytest.mark.allow_log (tests/logfail.py).
pytest_plugins = ["tests.smtpserver", "tests.logfail", "tests.realservers.dovecot"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A queue file of its own for this test; MAILGUI_DB points at it so the Mail API uses it too."""
    path = tmp_path / "queue.sqlite3"
    monkeypatch.setenv("MAILGUI_DB", str(path))
    return path


@pytest.fixture(autouse=True, scope="session")
def no_os_keyring() -> Iterator[None]:
    """Every test starts with no keyring, whatever the machine has: keyring picks its default among every
    KeyringBackend subclass it knows, test backends included (a locked one defined in one module became the
    default for a test in another, in a full run only). Tests that need one set it (``memory_keyring``)."""
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    yield


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An in-process keyring backend (the test machine has no OS keyring service), restored afterwards."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def queue(db_path: Path, clock: FakeClock) -> Iterator[Queue]:
    q = Queue(db_path, clock=clock)
    yield q
    q.close()


@pytest.fixture
def authorized(queue: Queue) -> Queue:
    """The queue with example.com authorized to send."""
    queue.add_sender("@example.com")
    return queue
