"""The headless worker as its own process: ``mailgui worker --until-idle``, and surviving SIGKILL mid-backlog."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from keyring.backend import KeyringBackend

from mailgui.clock import SystemClock
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue, Status
from mailgui.queue.bulk import enqueue_many
from mailgui.settings import KEYRING_SERVICE, Settings
from tests.smtpserver import SMTPTestServer

REPO = Path(__file__).resolve().parents[2]
KEYRING_ENV = "MAILGUI_TEST_KEYRING"


class EnvKeyring(KeyringBackend):
    """The keyring of a worker process under test (no OS keyring here): ``MAILGUI_TEST_KEYRING`` holds
    {account: password} for mailgui's service, as JSON. Chosen with ``PYTHON_KEYRING_BACKEND``; read-only."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        found: str | None = json.loads(os.environ.get(KEYRING_ENV, "{}")).get(username)
        return found if service == KEYRING_SERVICE else None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError("read-only")

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError("read-only")


def smtp_queue(path: Path, port: int, *, lease: float = 300) -> Queue:
    queue = Queue(path, clock=SystemClock())
    settings = Settings(queue)
    for key, value in {
        "relay.mode": "smtp",
        "relay.host": "127.0.0.1",
        "relay.port": str(port),
        "relay.security": "none",
        "relay.timeout": "10",
        "worker.connections": "4",
        "worker.lease": str(lease),
    }.items():
        settings.set(key, value)
    queue.add_sender("@example.com")
    return queue


def fill(queue: Queue, count: int) -> None:
    now = queue.clock.now()
    enqueue_many(
        queue,
        (
            build_message(
                MessageFields(sender="ann@example.com", to=f"user{n}@example.org", subject=f"n{n}", body=f"{n}\n"),
                now=now,
                message_id=f"<crash-{n}@example.com>",
            )
            for n in range(count)
        ),
    )


async def worker_process(
    db: Path, *args: str, log: Path | None = None, env_extra: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """``python -m mailgui --db DB worker ARGS``; output piped, or written to ``log`` (a process we kill)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), **(env_extra or {}))
    env.pop("MAILGUI_DB", None)
    command = [sys.executable, "-m", "mailgui", "--db", str(db), "worker", *args]
    if log is not None:
        with log.open("wb") as out:  # the child keeps its own copy of the descriptor
            return await asyncio.create_subprocess_exec(
                *command, env=env, cwd=str(REPO), stdout=out, stderr=asyncio.subprocess.STDOUT
            )
    return await asyncio.create_subprocess_exec(
        *command, env=env, cwd=str(REPO), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def finish(proc: asyncio.subprocess.Process, timeout: float) -> tuple[bytes, bytes]:
    """Its output once it exits; killed (and the test failed) if it has not exited within ``timeout``."""
    try:
        return await asyncio.wait_for(proc.communicate(), timeout=timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def message_ids(server: SMTPTestServer) -> Counter[str]:
    ids: Counter[str] = Counter()
    for r in server.received:
        for line in r.data.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                ids[line.split(b":", 1)[1].strip().decode()] += 1
                break
    return ids


async def test_cli_worker_until_idle_delivers_and_exits(tmp_path: Path, smtp_server: SMTPTestServer) -> None:
    db = tmp_path / "q.sqlite3"
    with smtp_queue(db, smtp_server.port) as queue:
        fill(queue, 25)
    proc = await worker_process(db, "--until-idle")
    out, err = await finish(proc, timeout=60)
    assert proc.returncode == 0, err.decode()
    assert f"via 127.0.0.1:{smtp_server.port}" in out.decode()
    assert "mailgui worker stopped: 25 sent" in out.decode()
    assert len(smtp_server.received) == 25
    with Queue(db) as queue:
        assert queue.counts_by_status() == {"sent": 25}
        raws = sorted(queue.get_message(m.id).raw for m in queue.list_messages(limit=100))
    assert sorted(r.data for r in smtp_server.received) == raws  # byte for byte as queued
    assert sorted(message_ids(smtp_server)) == sorted(f"<crash-{n}@example.com>" for n in range(25))


async def test_cli_worker_logs_in_with_the_password_from_the_keyring(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite3"
    async with SMTPTestServer(users={"ann": "Kr-9 pass"}, auth_require_tls=False) as server:
        with smtp_queue(db, server.port) as queue:  # relay.security none: loopback allows AUTH in plain text
            Settings(queue).set("relay.username", "ann")
            fill(queue, 3)
        keyring_env = {
            "PYTHON_KEYRING_BACKEND": f"{__name__}.EnvKeyring",
            KEYRING_ENV: json.dumps({f"ann@127.0.0.1:{server.port}": "Kr-9 pass"}),
        }
        proc = await worker_process(db, "--until-idle", env_extra=keyring_env)
        out, err = await finish(proc, timeout=30)
    assert proc.returncode == 0, err.decode()
    assert "mailgui worker stopped: 3 sent" in out.decode()
    assert server.logins and set(server.logins) == {("ann", "Kr-9 pass")}
    assert {c.login for c in server.connections} == {"ann"} and len(server.received) == 3


async def test_cli_worker_without_a_relay_host_says_which_setting(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite3"
    with Queue(db) as queue:
        Settings(queue).set("relay.mode", "smtp")
    proc = await worker_process(db, "--until-idle")
    _, err = await finish(proc, timeout=60)
    assert proc.returncode == 1
    assert "relay.host: no relay host is set" in err.decode()


async def read_until(stream: asyncio.StreamReader, text: bytes) -> bytes:
    """Lines from ``stream`` up to and including the first that holds ``text``."""
    read = b""
    while text not in read:
        line = await stream.readline()
        assert line, f"the output ended before {text!r}: {read.decode()}"
        read += line
    return read


async def test_cli_worker_that_cannot_record_stops_sending_and_exits_with_one_line_saying_why(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    db = tmp_path / "q.sqlite3"
    with smtp_queue(db, smtp_server.port) as queue:
        fill(queue, 50)
        queue.conn.execute(  # every outcome write aborts, as a full disk would (claims and releases still work)
            "CREATE TRIGGER no_outcomes BEFORE UPDATE ON recipients BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
    smtp_server.hold()
    proc = await worker_process(db)  # not --until-idle: it would run for good, were it not for the failure
    try:
        await asyncio.wait_for(smtp_server.wait_holding(1), timeout=60)  # one connection until one transaction worked
        smtp_server.release()  # the first message goes through ...
        smtp_server.hold()  # ... the next ones wait at the end of DATA until the worker has said it cannot record
        assert proc.stderr is not None
        log = await asyncio.wait_for(read_until(proc.stderr, b"could not record"), timeout=30)
        received_at_failure = len(smtp_server.received)
        smtp_server.release()
    finally:
        out, err = await finish(proc, timeout=60)
    err = log + err
    assert proc.returncode == 1, err.decode()
    *_, last = err.decode().splitlines()
    assert last == "sending stopped: could not record what was sent (IntegrityError: disk says no)"
    assert "Traceback" in err.decode()  # logged with its traceback first
    assert "mailgui worker stopped" not in out.decode()
    # Nothing more was sent once the write failed: only the sends then in flight (worker.connections: 4).
    assert received_at_failure == 1
    assert len(smtp_server.received) <= 1 + 4
    with Queue(db) as queue:
        counts = queue.counts_by_status()
    # Sent but not recorded: still leased (sent again once the lease runs out); the rest given back.
    assert counts == {"sending": len(smtp_server.received), "queued": 50 - len(smtp_server.received)}


async def test_ctrl_c_lets_the_send_in_flight_finish_and_gives_the_rest_back(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    db = tmp_path / "q.sqlite3"
    with smtp_queue(db, smtp_server.port) as queue:
        fill(queue, 50)
    smtp_server.hold()
    proc = await worker_process(db)
    await asyncio.wait_for(smtp_server.wait_holding(1), timeout=60)
    proc.send_signal(signal.SIGINT)
    smtp_server.release()  # the sends in flight finish...
    out, err = await finish(proc, timeout=60)
    assert proc.returncode == 0, err.decode()
    with Queue(db) as queue:
        counts = queue.counts_by_status()
    assert "sending" not in counts  # ... and every other lease was given back
    assert counts["sent"] == len(smtp_server.received) >= 1
    assert counts["sent"] + counts["queued"] == 50
    assert "mailgui worker stopped:" in out.decode()


async def test_worker_killed_mid_backlog_loses_nothing_and_resends_at_most_what_was_in_flight(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    total = 1000
    db = tmp_path / "q.sqlite3"
    with smtp_queue(db, smtp_server.port, lease=2) as queue:
        fill(queue, total)
    smtp_server.delay = 0.004  # slow enough to have sends in flight, fast enough for 1,000 in seconds

    proc = await worker_process(db, log=tmp_path / "killed-worker.log")
    try:
        await asyncio.wait_for(smtp_server.wait_received(300), timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with Queue(db) as queue:  # read before the restart: what the dead worker held leased
        leased = {m.message_id for m in queue.list_messages(Status.SENDING, limit=total)}
        in_flight = queue.counts_by_status().get(Status.SENDING, 0)
        sent_before = queue.counts_by_status().get(Status.SENT, 0)
    assert len(leased) == in_flight
    received_at_kill = len(smtp_server.received)

    proc = await worker_process(db, "--until-idle")
    _, err = await finish(proc, timeout=120)
    assert proc.returncode == 0, err.decode()

    with Queue(db) as queue:
        assert queue.counts_by_status() == {"sent": total}  # every message ends sent, none lost
    ids = message_ids(smtp_server)
    assert set(ids) == {f"<crash-{n}@example.com>" for n in range(total)}
    twice = {mid for mid, n in ids.items() if n > 1}
    print(
        f"\ncrash test: killed after {received_at_kill} received ({sent_before} recorded sent, {in_flight} in flight);"
        f" after restart {len(smtp_server.received)} received for {total} messages; {len(twice)} received twice"
    )
    assert max(ids.values()) <= 2
    # Only a message leased to the dead worker (in 'sending' at the kill) may have reached the server twice.
    assert twice <= leased, (
        f"{len(twice)} received twice, {in_flight} in flight at the kill; "
        f"received twice but not in flight: {sorted(twice - leased)}"
    )
