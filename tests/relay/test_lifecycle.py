"""Starting and stopping the relay in the caller's loop, and ``mailgui local-relay`` on its own."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiosmtplib
import pytest

from mailgui.errors import Error
from mailgui.queue import Queue
from mailgui.relay import LocalRelay
from tests.relay.client import SlowGate, connect, send


async def test_start_binds_a_free_port_in_the_running_loop(db_path: Path) -> None:
    relay = LocalRelay(db_path)
    port = await relay.start()
    try:
        assert port == relay.port > 0
        assert relay.running
        assert await relay.start() == port  # idempotent
        errors, _ = await send(port, "a@example.com", ["b@example.org"], b"Subject: s\r\n\r\nx\r\n")
        assert errors == {}
    finally:
        await relay.stop()
    assert not relay.running
    await relay.stop()  # idempotent
    with pytest.raises(OSError):
        await aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=5).connect()


async def test_port_in_use_is_a_clear_error(db_path: Path) -> None:
    async with LocalRelay(db_path) as first:
        second = LocalRelay(db_path, port=first.port)
        with pytest.raises(Error, match=rf"^local_relay.port: cannot listen on 127.0.0.1:{first.port}: "):
            await second.start()
        assert not second.running


async def test_stop_closes_open_connections_and_waits_for_them(db_path: Path) -> None:
    relay = LocalRelay(db_path)
    await relay.start()
    idle = await connect(relay.port)
    try:
        await relay.stop()
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await idle.noop()
    finally:
        idle.close()


async def test_stop_during_a_slow_answer_drops_the_message_without_storing_it(db_path: Path, queue: Queue) -> None:
    gate = SlowGate()  # never released: the relay is stopped while it holds the reply
    relay = LocalRelay(db_path, sleep=gate)
    await relay.start()
    sending = asyncio.create_task(send(relay.port, "a@example.com", ["slow@simulator.mailgui.test"], b"\r\nx\r\n"))
    await asyncio.wait_for(gate.waiting.wait(), 10)
    await relay.stop()
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await asyncio.wait_for(sending, 10)
    assert queue.count_mailbox() == 0


def first_line(proc: subprocess.Popen[str]) -> str:
    """The child's first line on stdout, read a byte at a time from the pipe.

    Not ``proc.stdout.readline()``: that reads ahead into the reader's buffer, and ``communicate()`` later reads the
    pipe beneath it, so whatever was read ahead would be lost.
    """
    assert proc.stdout is not None
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(proc.stdout.fileno(), 1)
        if not byte:
            break
        line += byte
    return line.decode()


def test_local_relay_command_serves_until_sigterm(db_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailgui", "--db", str(db_path), "local-relay", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = first_line(proc)
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert match, line
        port = int(match.group(1))

        async def deliver() -> None:
            await send(port, "a@example.com", ["you@localhost"], b"Subject: via cli\r\n\r\nx\r\n")

        asyncio.run(deliver())
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in out
    with Queue(db_path) as q:
        assert [e.subject for e in q.list_mailbox()] == ["via cli"]
