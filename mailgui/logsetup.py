"""The one logging set-up of the app, the headless worker and the local relay: a log call never waits on output.

A log call puts the record on a bounded queue (the stdlib's ``QueueHandler``); a thread of each output's own
(stderr; the log file, for the app) writes it out, so a stuck stderr does not stop the file. A pipe nobody reads (stderr of a worker started by a script that reads only stdout) then stalls
that thread, never the event loop: a loop stalled on a log write timed out healthy SMTP sessions and backed off a
relay that was fine. The thread is ours rather than a ``QueueListener``: its ``stop()`` joins without a bound, and
a stuck output must not keep the process from exiting.

When an output falls behind by :data:`CAPACITY` records, later records for it are dropped and counted, and the
count is logged as soon as there is room again: a bounded queue keeps a stuck output from growing the process
without end (the worker logs a few lines a message), and a log call that waited for room would be the stall
itself. On a normal exit every record is written out."""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
import sys
import threading
from pathlib import Path
from types import TracebackType

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CAPACITY = 10_000  # records waiting for one output, at most (under 10 MB)
PATIENCE = 2.0  # seconds without a record written before stopping gives up on an output that is stuck
LOG_FILE_BYTES = 5_000_000  # then mailgui.log becomes mailgui.log.1, and so on
LOG_FILE_BACKUPS = 3

log = logging.getLogger(__name__)


class DroppingQueueHandler(logging.handlers.QueueHandler):
    """A ``QueueHandler`` that drops (and counts) a record rather than wait when its queue is full."""

    def __init__(self, records: queue.Queue[logging.LogRecord | None]) -> None:
        super().__init__(records)
        self.dropped = 0  # since the last notice
        self.dropped_total = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        # Called under the handler's lock: the counters need no other.
        try:
            if self.dropped:
                self.queue.put_nowait(self.drop_notice())
                self.dropped = 0
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            self.dropped_total += 1

    def drop_notice(self) -> logging.LogRecord:
        return logging.makeLogRecord(
            {
                "name": __name__,
                "levelno": logging.WARNING,
                "levelname": "WARNING",
                "msg": f"{self.dropped} log records dropped: the log output did not keep up",
            }
        )


class DescriptorHandler(logging.Handler):
    """Writes records to a file descriptor (stderr's) with ``os.write``.

    Not through ``sys.stderr``: a thread blocked in its write holds the lock of its buffer, and at exit the
    interpreter's own flush of stderr then aborts the process ("could not acquire lock for <stderr> at
    interpreter shutdown, possibly due to daemon threads").
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.encoding = getattr(sys.stderr, "encoding", None) or "utf-8"

    def handle(self, record: logging.LogRecord) -> bool:
        # Without the handler's lock: only the output's own thread calls it, and logging.shutdown() takes every
        # handler's lock at exit, which a write stuck on a full pipe would hold for good.
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = memoryview((self.format(record) + "\n").encode(self.encoding, "backslashreplace"))
            while data:
                data = data[os.write(self.fd, data) :]
        except Exception:
            self.handleError(record)


class QueuedOutput:
    """One output (a handler) fed through a bounded queue by a daemon thread of its own."""

    def __init__(self, handler: logging.Handler, capacity: int = CAPACITY) -> None:
        self.handler = handler
        self.records: queue.Queue[logging.LogRecord | None] = queue.Queue(capacity)
        self.queue_handler = DroppingQueueHandler(self.records)
        self.written = 0  # records handed to the output; stop() watches it to tell slow from stuck
        self.abandoned = False
        # A daemon: a thread stuck on a write must not keep the process from exiting.
        self.thread = threading.Thread(target=self._write_out, name=f"log output {handler.name or ''}", daemon=True)
        self.thread.start()

    def _write_out(self) -> None:
        while (record := self.records.get()) is not None and not self.abandoned:
            self.handler.handle(record)
            self.written += 1

    def stop(self, patience: float = PATIENCE) -> bool:
        """Write out what waits, then end the thread; False if the output took nothing for ``patience`` s.

        Given up on, the thread discards what is left and ends if its output ever comes unstuck.
        """
        pending = [self.queue_handler.drop_notice()] if self.queue_handler.dropped else []
        if all(self._put(item, patience) for item in (*pending, None)):
            while self.thread.is_alive():
                before = self.written
                self.thread.join(patience)
                if self.written == before:
                    break
        if self.thread.is_alive():
            self.abandoned = True
            return False
        self.handler.close()
        return True

    def _put(self, item: logging.LogRecord | None, patience: float) -> bool:
        while True:
            before = self.written
            try:
                self.records.put(item, timeout=patience)
                return True
            except queue.Full:
                if self.written == before:
                    return False


class LogSetup:
    """What :func:`configure_logging` installed; ``stop()`` (or leaving the ``with`` block) writes out what waits,
    takes it down and puts the logger back as it was."""

    def __init__(
        self,
        logger: logging.Logger,
        outputs: list[QueuedOutput],
        levels: dict[logging.Logger, int],
        log_file: Path | None = None,
    ) -> None:
        self.logger = logger
        self.outputs = outputs
        self.log_file = log_file  # the file records go to, or None (not asked for, not writable, or set up by others)
        self._levels = levels  # the level each logger had before

    @property
    def dropped(self) -> int:
        """Records dropped so far because an output fell :data:`CAPACITY` records behind (all outputs)."""
        return sum(o.queue_handler.dropped_total for o in self.outputs)

    def stop(self, patience: float = PATIENCE) -> bool:
        """False if some output was stuck (its records are lost; its thread is left to the process's exit)."""
        for output in self.outputs:
            self.logger.removeHandler(output.queue_handler)
        done = all([output.stop(patience) for output in self.outputs])
        self.outputs = []
        for logger, level in self._levels.items():
            logger.setLevel(level)
        self._levels = {}
        return done

    def __enter__(self) -> LogSetup:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


def stderr_descriptor() -> int | None:
    """stderr's file descriptor, or None where there is none (``pythonw`` on Windows, a closed stderr)."""
    try:
        return sys.stderr.fileno() if sys.stderr is not None else None
    except (AttributeError, OSError, ValueError):
        return None


def configure_logging(
    *,
    fd: int | None = None,
    log_file: Path | None = None,
    level: int = logging.INFO,
    logger: logging.Logger | None = None,
) -> LogSetup:
    """Log at ``level`` and up to stderr (or the descriptor ``fd``), and to ``log_file`` if given (rotated at
    :data:`LOG_FILE_BYTES`), each through a queue of its own: see the module's docstring.

    ``logger`` is the root logger unless given (tests give one of their own). A logger that has handlers already
    (pytest's, or a program embedding mailgui that set logging up itself) is left as it is, and so is everything
    else: the returned set-up then holds nothing.
    """
    target = logger or logging.getLogger()
    if target.handlers:
        return LogSetup(target, [], {})
    handlers: list[logging.Handler] = []
    if fd is None:
        fd = stderr_descriptor()
    if fd is not None:
        handlers.append(DescriptorHandler(fd))
        handlers[-1].name = "stderr"
    file_error: OSError | None = None
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(
                logging.handlers.RotatingFileHandler(
                    log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
                )
            )
            handlers[-1].name = "file"
        except OSError as exc:
            file_error = exc
    formatter = logging.Formatter(FORMAT)
    outputs = []
    for handler in handlers:
        handler.setFormatter(formatter)
        outputs.append(QueuedOutput(handler))
        target.addHandler(outputs[-1].queue_handler)
    levels = {target: target.level}
    target.setLevel(level)
    if logger is None:  # aiosmtpd logs every SMTP command of the local relay at INFO
        smtp_commands = logging.getLogger("mail.log")
        levels[smtp_commands] = smtp_commands.level
        smtp_commands.setLevel(logging.WARNING)
    if file_error is not None:
        log.warning("log file %s: cannot be written (%s); logging to stderr only", log_file, file_error)
    return LogSetup(target, outputs, levels, None if file_error else log_file)
