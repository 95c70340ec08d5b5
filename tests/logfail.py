"""Fail a test that logs a WARNING or worse it did not declare, as qutebrowser's ``tests/helpers/logfail.py`` does.

A warning in a test run is either what the test is about (a relay that refuses, a file that cannot be read) or a
bug nobody looked at. The first kind is declared where it happens::

    @pytest.mark.allow_log("mailgui.delivery.leases", match="lease lost")         # WARNING (and below)
    @pytest.mark.allow_log("mailgui.relay.handler", level=logging.ERROR)          # ERROR too

or for a whole module, ``pytestmark = pytest.mark.allow_log(...)``; a marker may also carry ``Allowed(...)``
entries, as the shared declarations below do (``@expect_relay_failures``). A marker allows records of that logger and
its children, at its level or below, whose message matches ``match`` (``re.search``) if given. Anything else at
WARNING or above fails the test at teardown, after every function fixture has been torn down, so a warning
logged while a window closes or a loop shuts down counts too. Records from other threads count: a thread that
logs after its test ended is a leak, and the next test is the one that fails (the GUI fixtures catch the leak
itself).

``ALWAYS_ALLOWED`` is for what no test can declare, and each entry says why; keep it short.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Allowed:
    """Records of ``logger`` (or a child) at ``level`` or below, whose message matches ``match`` if given."""

    logger: str
    level: int = logging.WARNING
    match: str | None = None
    why: str = ""

    def covers(self, record: logging.LogRecord) -> bool:
        if record.name != self.logger and not record.name.startswith(self.logger + "."):
            return False
        if record.levelno > self.level:
            return False
        return self.match is None or re.search(self.match, record.getMessage()) is not None


ALWAYS_ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        "mail.log",
        match=r"^auth_required == True but auth_require_tls == False$",
        why="aiosmtpd (the tests' SMTP server) says so whenever a test asks it for AUTH without TLS on loopback",
    ),
)

# Declarations several test packages share.
expect_relay_failures = pytest.mark.allow_log("mailgui.delivery.worker", match=r"^relay (failed|unreachable) ")
"""The worker's "relay failed (why): ...; next try in N s" and "relay unreachable since ...": the test's relay fails."""

expect_recording_failure = pytest.mark.allow_log(
    Allowed("mailgui.delivery.recorder", logging.ERROR, r"^could not record "),
    Allowed("mailgui.delivery.worker", logging.ERROR, r"^sending stopped: "),
    Allowed("mailgui.delivery.running", logging.WARNING, r"^stopping: \d+ messages sent but not recorded "),
)
"""The worker could not record an outcome and stopped sending."""


class _Recorder(logging.Handler):
    """Keeps every record at WARNING or above, from any thread, until the test that is running takes them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)  # called by handle() with self.lock held

    def take(self) -> list[logging.LogRecord]:
        self.acquire()  # a record logged meanwhile by another thread lands in this test's list or the next
        try:
            taken, self.records = self.records, []
        finally:
            self.release()
        return taken


_recorder = _Recorder()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_log(logger, level=logging.WARNING, match=None): this test expects ``logger`` (or a child) to log "
        "at ``level`` or below, with a message matching the regex ``match``; see tests/logfail.py",
    )
    logging.getLogger().addHandler(_recorder)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_recorder)


def _allowed_by(item: pytest.Item) -> list[Allowed]:
    allowed = list(ALWAYS_ALLOWED)
    for mark in item.iter_markers("allow_log"):
        if mark.args and all(isinstance(a, Allowed) for a in mark.args):
            allowed.extend(mark.args)  # a shared declaration, several records in one marker
        else:
            allowed.append(Allowed(*mark.args, **mark.kwargs))
    return allowed


def _describe(record: logging.LogRecord) -> str:
    return f"{record.levelname} {record.name}: {record.getMessage()}"


@pytest.fixture(autouse=True)
def fail_on_unexpected_log(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it (or its fixtures) logged a WARNING or worse that no ``allow_log`` marker declares."""
    yield
    allowed = _allowed_by(request.node)
    unexpected = [r for r in _recorder.take() if not any(a.covers(r) for a in allowed)]
    if unexpected:
        lines = "\n".join(f"  {_describe(r)}" for r in unexpected)
        pytest.fail(
            f"{request.node.nodeid} logged {len(unexpected)} record(s) it did not declare:\n{lines}\n"
            "If the test expects them, mark it @pytest.mark.allow_log(logger, level=..., match=...)"
            " (tests/logfail.py); if not, it found a bug.",
            pytrace=False,
        )
