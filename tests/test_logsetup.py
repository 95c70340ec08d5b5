"""Logging never makes the caller wait on its output (mailgui/logsetup.py), down to ``mailgui worker`` with a
stderr nobody reads; and a normal exit writes out every record."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgui.logsetup import CAPACITY, configure_logging
from mailgui.queue import Queue
from tests.delivery.test_process import REPO, fill, smtp_queue
from tests.smtpserver import SMTPTestServer

# The worker logs about 240 bytes a message at INFO (482 KB for 2,000 in one run): 1,000 messages fill a Linux
# pipe's 64 KiB buffer by the 300th or so.
MESSAGES = 1000


@pytest.fixture
def test_logger() -> Iterator[logging.Logger]:
    """A logger of the test's own: pytest's handlers sit on the root, and configure_logging leaves a logger that
    has handlers as it is."""
    # Not propagate=False: pytest then puts its capture handlers on this logger too.
    logger = logging.getLogger(f"tests.logsetup.{threading.get_ident()}")
    yield logger
    logger.handlers.clear()


class PipeReader:
    """Reads the pipe a test logs into, on a thread, once ``start()``-ed: everything that came, as text."""

    def __init__(self) -> None:
        self.fd, self.write_fd = os.pipe()
        self.chunks: list[bytes] = []
        self.thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        while chunk := os.read(self.fd, 1 << 16):
            self.chunks.append(chunk)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> str:
        """Close the writing end, read to its end (the guard: 30 s), and return the text."""
        os.close(self.write_fd)
        if self.thread.ident is None:  # never started
            self.start()
        self.thread.join(30)
        assert not self.thread.is_alive()
        os.close(self.fd)
        return b"".join(self.chunks).decode()


def log_many(logger: logging.Logger, count: int) -> threading.Thread:
    """Log ``count`` lines from a thread of their own, ended (the guard: 30 s) when this returns."""
    thread = threading.Thread(
        target=lambda: [logger.info("record %d of %d", n, count) for n in range(count)], daemon=True
    )
    thread.start()
    thread.join(30)
    return thread


def test_a_log_call_returns_while_the_output_is_stuck(test_logger: logging.Logger) -> None:
    pipe = PipeReader()  # not read until the end: the output's writes fill the pipe, then block
    setup = configure_logging(fd=pipe.write_fd, logger=test_logger)
    total = CAPACITY + 5000  # the pipe takes a few hundred; the queue CAPACITY more; the rest must be dropped
    logging_thread = log_many(test_logger, total)
    assert not logging_thread.is_alive(), "a log call waited on the stuck output"
    dropped = setup.dropped
    assert dropped > 0
    pipe.start()  # the output comes unstuck: what waited is written out, and then how many were dropped
    assert setup.stop() is True
    lines = pipe.close().splitlines()
    # A notice whenever there was room again: while the pipe still took some, the output freed a place now and
    # then, so the drops may come in several runs, each counted once, the last at the end.
    notice = re.compile(r"WARNING mailgui\.logsetup: (\d+) log records dropped: the log output did not keep up$")
    assert notice.search(lines[-1])
    counts = [int(m[1]) for line in lines if (m := notice.search(line))]
    records = [line for line in lines if not notice.search(line)]
    assert sum(counts) == dropped
    assert len(records) + dropped == total  # each record written, or counted as dropped
    numbers = [int(line.split("record ")[1].split(" ")[0]) for line in records]
    assert numbers == sorted(numbers) and numbers[0] == 0  # in order; the oldest kept, the newest dropped


def test_stop_gives_up_on_an_output_that_takes_nothing(test_logger: logging.Logger) -> None:
    pipe = PipeReader()
    setup = configure_logging(fd=pipe.write_fd, logger=test_logger)
    assert not log_many(test_logger, 5000).is_alive()  # far more than the pipe holds
    writer = setup.outputs[0].thread
    assert setup.stop(patience=0.2) is False  # the records still queued are lost; the caller goes on
    assert test_logger.handlers == [] and test_logger.level == logging.NOTSET
    pipe.start()  # unstuck at last, the abandoned writer drops the rest and ends (before the pipe is closed)
    writer.join(30)
    assert not writer.is_alive()
    assert len(pipe.close().splitlines()) < 5000


def test_a_normal_exit_writes_out_every_record_in_order(test_logger: logging.Logger) -> None:
    pipe = PipeReader()
    pipe.start()
    with configure_logging(fd=pipe.write_fd, logger=test_logger) as setup:
        assert test_logger.level == logging.INFO
        assert not log_many(test_logger, 5000).is_alive()
        test_logger.debug("below the level")
    assert setup.dropped == 0
    lines = pipe.close().splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [f"record {n} of 5000" for n in range(5000)]
    assert lines[0].split(" ")[2:4] == ["INFO", f"{test_logger.name}:"]


def test_a_logger_set_up_already_is_left_as_it_is(caplog: pytest.LogCaptureFixture) -> None:
    # Under pytest the root logger has pytest's handlers: service.run_worker and gui.app.run_gui called in a
    # test leave them (and caplog) working.
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    with caplog.at_level(logging.INFO), configure_logging() as setup:
        assert (list(root.handlers), setup.outputs) == (before[0], [])
        logging.getLogger("mailgui.test").info("still seen by caplog")
    assert caplog.messages == ["still seen by caplog"]
    assert (list(root.handlers), root.level) == before


async def test_worker_whose_stderr_is_never_read_still_delivers_everything(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    db = tmp_path / "q.sqlite3"
    with smtp_queue(db, smtp_server.port) as queue:
        fill(queue, MESSAGES)
    # --verbose: a line for each recipient, so the log outgrows the pipe. The test keeps the reading end open and
    # never reads it: writes fill, then block.
    unread, stderr = os.pipe()
    try:
        env = {k: v for k, v in os.environ.items() if k != "MAILGUI_DB"} | {"PYTHONPATH": str(REPO)}
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "mailgui", "--db", str(db), "worker", "--until-idle", "--verbose"),
            env=env,
            cwd=str(REPO),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        os.close(stderr)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        finally:
            if proc.returncode is None:  # today's worker: frozen on a log write, for good
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0
        assert f"mailgui worker stopped: {MESSAGES} sent" in out.decode()
        with Queue(db) as queue:
            assert queue.counts_by_status() == {"sent": MESSAGES}
            tries = {m.attempts for m in queue.list_messages(limit=MESSAGES)}
        assert tries == {1}  # no timeout blamed on the relay, no message deferred to a backed-off relay
        assert len(smtp_server.received) == MESSAGES
        # What reached the pipe before it filled: no relay failure among it.
        os.set_blocking(unread, False)
        seen = os.read(unread, 1 << 20).decode(errors="replace")
        assert "message 1: sent" in seen
        assert "relay failed" not in seen
    finally:
        os.close(unread)


def test_the_log_file_gets_every_record_while_stderr_is_stuck(test_logger: logging.Logger, tmp_path: Path) -> None:
    pipe = PipeReader()  # stderr: never read until the end
    log_file = tmp_path / "log" / "mailgui.log"  # its directory is made
    setup = configure_logging(fd=pipe.write_fd, log_file=log_file, logger=test_logger)
    stderr_writer = setup.outputs[0].thread
    assert not log_many(test_logger, 3000).is_alive()  # some 250 KB: the pipe takes a quarter
    assert setup.stop(patience=0.2) is False  # stderr given up on; the file written out all the same
    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [f"record {n} of 3000" for n in range(3000)]
    pipe.start()
    stderr_writer.join(30)
    assert not stderr_writer.is_alive()
    pipe.close()


@pytest.mark.allow_log("mailgui.logsetup", match=r"^log file .*: cannot be written ")
def test_a_log_file_that_cannot_be_made_leaves_stderr_and_says_why(
    test_logger: logging.Logger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "log").write_text("a file where the log directory should be")
    pipe = PipeReader()
    pipe.start()
    with configure_logging(fd=pipe.write_fd, log_file=tmp_path / "log" / "mailgui.log", logger=test_logger) as setup:
        assert len(setup.outputs) == 1
        assert setup.log_file is None  # Help → About must not name a file nothing is written to
        test_logger.info("to stderr")
    assert pipe.close().endswith(": to stderr\n")
    [warning] = [r for r in caplog.records if r.name == "mailgui.logsetup"]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage().startswith(f"log file {tmp_path / 'log' / 'mailgui.log'}: cannot be written (")


def test_the_set_up_names_the_log_file_it_writes_and_none_when_asked_for_none(
    test_logger: logging.Logger, tmp_path: Path
) -> None:
    pipe = PipeReader()
    pipe.start()
    log_file = tmp_path / "log" / "mailgui.log"
    with configure_logging(fd=pipe.write_fd, log_file=log_file, logger=test_logger) as setup:
        assert setup.log_file == log_file
    with configure_logging(fd=pipe.write_fd, logger=test_logger) as setup:
        assert setup.log_file is None
    pipe.close()
