"""Delivery throughput: mailgui against a bare aiosmtplib loop and a pipelined reference client, into a fast sink.

    apt-get install postfix                            # smtp-sink, Postfix's C test server (Debian's package)
    .venv/bin/python bench/deliver.py                  # 6,000 messages, 4 connections, 5 rounds, both sinks
    .venv/bin/python bench/deliver.py --sink smtp-sink -n 6000 --rounds 5
    .venv/bin/python bench/deliver.py --only mailgui --profile /tmp/deliver.prof   # then pstats

Sinks (each answers 250 to everything, in a process of its own, so the client side is what is measured):
``smtp-sink`` (Postfix's, in C; advertises PIPELINING) and aiosmtpd (Python; no PIPELINING). In each round, on
the same sink, over the same number of reused connections, interleaved:

- bare: ``aiosmtplib.SMTP.sendmail`` in a loop per connection, from ready-made messages, no queue, no RSET;
- pipelined: a minimal asyncio client of this file that writes RSET, MAIL, RCPT and DATA in one go when the sink
  advertises PIPELINING (RFC 2920), then the data; no queue;
- transport: mailgui's own SMTP client alone (``SmtpConnection.deliver`` in a loop), no queue, no worker;
- mailgui: the same messages queued beforehand (not timed), then ``Worker.run(until_idle=True)`` in this process
  with the system clock: claims with leases, every outcome committed to the queue file (WAL, synchronous=FULL),
  events published. Process start excluded;
- mailgui-cli: the same, as ``mailgui --db FILE worker --until-idle`` in a new process, timed from spawn to exit:
  process start (Python, imports) included.

Prints messages per second, the client's CPU per message (for mailgui split by thread: the event loop and the queue
thread), and per round mailgui-cli / bare and mailgui / pipelined, with medians and ranges.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosmtplib

from mailgui.clock import SystemClock
from mailgui.delivery import RelayTarget, Worker
from mailgui.delivery.transport import SmtpConnection
from mailgui.message import MessageFields, OutgoingMessage, build_message
from mailgui.queue import Queue
from mailgui.queue.bulk import enqueue_many
from mailgui.settings import Settings

T = TypeVar("T")


# -- the sink (runs in its own process) --------------------------------------------------------------------
def _sink(conn: multiprocessing.connection.Connection) -> None:
    from aiosmtpd.smtp import SMTP

    class Handler:
        count = 0

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            Handler.count += 1
            return "250 2.0.0 Ok"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        handler = Handler()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="sink.local", decode_data=False, loop=loop), "127.0.0.1", 0
        )
        conn.send(server.sockets[0].getsockname()[1])
        done = asyncio.Event()

        def command() -> None:
            msg = conn.recv()
            if msg == "count":
                conn.send(Handler.count)
            elif msg == "stop":
                done.set()

        loop.add_reader(conn.fileno(), command)
        await done.wait()
        server.close()

    asyncio.run(main())


class AiosmtpdSink:
    name = "aiosmtpd"

    def __enter__(self) -> AiosmtpdSink:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_sink, args=(child,), daemon=True)
        self.proc.start()
        self.port = int(self.conn.recv())
        return self

    def count(self) -> int | None:
        self.conn.send("count")
        return int(self.conn.recv())

    def __exit__(self, *exc: object) -> None:
        self.conn.send("stop")
        self.proc.join(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostfixSink:
    """Postfix's smtp-sink on 127.0.0.1 (it advertises PIPELINING). It keeps no count we can ask for: the clients
    check every reply instead, and mailgui's queue must say every message was sent."""

    name = "smtp-sink"

    def __enter__(self) -> PostfixSink:
        binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if not Path(binary).exists():
            raise SystemExit("smtp-sink not found: apt-get install postfix (or run with --sink aiosmtpd)")
        self.port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        # BENCH_SINK_CPUS=1 (with the bench under `taskset -c 0`): the sink on a core of its own.
        pin = ["taskset", "-c", os.environ["BENCH_SINK_CPUS"]] if os.environ.get("BENCH_SINK_CPUS") else []
        self.proc = subprocess.Popen([*pin, binary, *user, "-h", "sink.local", f"127.0.0.1:{self.port}", "256"])
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.02)
        return self

    def count(self) -> int | None:
        return None

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()  # ours, by its PID
        self.proc.wait(10)


LINE = "this line is one of a few that make the message about 1.3 KB, as a short notification is.\n"


# -- the clients ---------------------------------------------------------------------------------------
def make_messages(n: int) -> list[OutgoingMessage]:
    now = time.time()
    return [
        build_message(
            MessageFields(
                sender="Ann <ann@example.com>",
                to=f"user{i}@example.org",
                subject=f"Bench message {i}",
                body=f"Hello {i},\n\n" + LINE * 14 + "\n-- \nAnn\n",
            ),
            now=now,
        )
        for i in range(n)
    ]


@dataclass
class Run:
    elapsed: float  # seconds, wall time
    loop_cpu: float  # CPU seconds of the event-loop thread while timed
    queue_cpu: float = 0.0  # CPU seconds of mailgui's queue thread (its SQLite work and commits)


async def bare(port: int, messages: list[OutgoingMessage], connections: int) -> Run:
    """aiosmtplib's sendmail in a loop per connection, no RSET: the simplest client there is."""
    start, cpu0 = time.perf_counter(), time.thread_time()
    work = iter(messages)

    async def one_connection() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="bench.local", start_tls=False)
        await client.connect()
        for msg in work:
            errors, _ = await client.sendmail(msg.sender.address, [a for a, _ in msg.recipients], msg.raw)
            if errors:
                raise SystemExit(f"bare: refused {errors}")
        await client.quit()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return Run(time.perf_counter() - start, time.thread_time() - cpu0)


async def pipelined(port: int, messages: list[OutgoingMessage], connections: int) -> Run:
    """A minimal RFC 2920 client: RSET (on reuse), MAIL, RCPT and DATA in one write, the replies read in order,
    then the data. Streams, no checks beyond the codes: the reference for what one loop can do."""
    start, cpu0 = time.perf_counter(), time.thread_time()
    work = iter(messages)

    async def reply(reader: asyncio.StreamReader) -> int:
        while True:
            line = await reader.readline()
            if line[3:4] != b"-":
                return int(line[:3])

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reply(reader)
        writer.write(b"EHLO bench.local\r\n")
        lines = []
        while True:
            line = await reader.readline()
            lines.append(line)
            if line[3:4] != b"-":
                break
        can_pipeline = any(b"PIPELINING" in line.upper() for line in lines)
        used = False
        for msg in work:
            rcpts = [a for a, _ in msg.recipients]
            group = [b"RSET\r\n"] if used else []
            group.append(b"MAIL FROM:<" + msg.sender.address.encode() + b">\r\n")
            group += [b"RCPT TO:<" + a.encode() + b">\r\n" for a in rcpts]
            group.append(b"DATA\r\n")
            if can_pipeline:
                writer.write(b"".join(group))
                codes = [await reply(reader) for _ in group]
            else:
                codes = []
                for command in group:
                    writer.write(command)
                    codes.append(await reply(reader))
            if codes[-1] != 354:
                raise SystemExit(f"pipelined: {codes}")
            raw = msg.raw.replace(b"\n.", b"\n..")
            writer.write(raw + (b"" if raw.endswith(b"\r\n") else b"\r\n") + b".\r\n")
            if await reply(reader) != 250:
                raise SystemExit("pipelined: data refused")
            used = True
        writer.write(b"QUIT\r\n")
        await reply(reader)
        writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return Run(time.perf_counter() - start, time.thread_time() - cpu0)


async def transport(port: int, messages: list[OutgoingMessage], connections: int) -> Run:
    """mailgui's SMTP client alone (``SmtpConnection.deliver`` in a loop per connection): no queue, no worker.
    What the strict, pipelined dialogue costs by itself."""
    start, cpu0 = time.perf_counter(), time.thread_time()
    work = iter(messages)
    target = RelayTarget("127.0.0.1", port, "none", connections=connections, helo_name="bench.local")

    async def one_connection() -> None:
        conn = SmtpConnection(target)
        await conn.open()
        for msg in work:
            replies = await conn.deliver(msg.sender.address, [a for a, _ in msg.recipients], msg.raw, False)
            if any(r.code != 250 for r in replies):
                raise SystemExit(f"transport: {replies}")
        await conn.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return Run(time.perf_counter() - start, time.thread_time() - cpu0)


def fill(directory: Path, messages: list[OutgoingMessage], port: int, connections: int) -> Path:
    """A queue file holding ``messages``, its relay the sink."""
    db = directory / f"bench-{time.monotonic_ns()}.sqlite3"
    with Queue(db, clock=SystemClock()) as queue:
        queue.add_sender("@example.com")
        settings = Settings(queue)
        for key, value in (
            ("relay.mode", "smtp"),
            ("relay.host", "127.0.0.1"),
            ("relay.port", str(port)),
            ("relay.security", "none"),
            ("worker.connections", str(connections)),
        ):
            settings.set(key, value)
        enqueue_many(queue, messages)
    return db


def check_sent(db: Path, n: int, side: str) -> None:
    with Queue(db, clock=SystemClock()) as queue:
        counts = queue.counts_by_status()
    if counts != {"sent": n}:
        raise SystemExit(f"{side}: not everything was sent: {counts}")


def mailgui_cli(port: int, messages: list[OutgoingMessage], connections: int, directory: Path) -> Run:
    """``mailgui worker --until-idle`` in a new process: timed from spawn to exit, Python's start included."""
    db = fill(directory, messages, port, connections)
    start = time.perf_counter()
    before = os.times()
    subprocess.run(
        [sys.executable, "-m", "mailgui", "--db", str(db), "worker", "--until-idle"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    after = os.times()
    run = Run(
        time.perf_counter() - start,
        (after.children_user + after.children_system) - (before.children_user + before.children_system),
    )
    check_sent(db, len(messages), "mailgui-cli")
    return run


async def mailgui(
    port: int, messages: list[OutgoingMessage], connections: int, directory: Path, batch: int | None = None
) -> Run:
    db = fill(directory, messages, port, connections)
    clock = SystemClock()
    with Queue(db, clock=clock) as queue:
        target = RelayTarget("127.0.0.1", port, "none", connections=connections, helo_name="bench.local")
        worker = Worker(queue, clock=clock, relay=target, batch_size=batch)
        queue_cpu = [0.0]
        on_thread = worker.db._run

        def timed(fn: Callable[[Queue], T]) -> T:  # runs on the queue thread: count its CPU
            t0 = time.thread_time()
            try:
                return on_thread(fn)
            finally:
                queue_cpu[0] += time.thread_time() - t0

        worker.db._run = timed  # type: ignore[method-assign]
        start, cpu0 = time.perf_counter(), time.thread_time()
        await worker.run(until_idle=True)
        run = Run(time.perf_counter() - start, time.thread_time() - cpu0, queue_cpu[0])
    check_sent(db, len(messages), "mailgui")
    return run


SIDES = ("bare", "pipelined", "transport", "mailgui", "mailgui-cli")


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    return f"median {fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def bench_sink(
    sink: AiosmtpdSink | PostfixSink, a: argparse.Namespace, messages: list[OutgoingMessage], tmp: Path
) -> None:
    rates: dict[str, list[float]] = {side: [] for side in SIDES}
    cpu: dict[str, list[float]] = {side: [] for side in SIDES}
    print(f"== sink: {sink.name}, {a.n} messages of {len(messages[0].raw)} bytes, {a.connections} connections")
    for r in range(a.rounds):
        for side in SIDES:
            if a.only and side != a.only:
                continue
            before = sink.count()
            if side == "bare":
                run = asyncio.run(bare(sink.port, messages, a.connections))
            elif side == "pipelined":
                run = asyncio.run(pipelined(sink.port, messages, a.connections))
            elif side == "transport":
                run = asyncio.run(transport(sink.port, messages, a.connections))
            elif side == "mailgui-cli":
                run = mailgui_cli(sink.port, messages, a.connections, tmp)
            elif a.profile:
                import cProfile

                with cProfile.Profile() as prof:
                    run = asyncio.run(mailgui(sink.port, messages, a.connections, tmp, a.batch))
                prof.dump_stats(a.profile)
            else:
                run = asyncio.run(mailgui(sink.port, messages, a.connections, tmp, a.batch))
            after = sink.count()
            if before is not None and after is not None and after - before != a.n:
                raise SystemExit(f"{side}: the sink got {after - before} messages, expected {a.n}")
            rates[side].append(a.n / run.elapsed)
            cpu[side].append((run.loop_cpu + run.queue_cpu) / a.n * 1e6)
            split = f" = loop {run.loop_cpu / a.n * 1e6:.0f} + queue thread {run.queue_cpu / a.n * 1e6:.0f}"
            print(
                f"round {r + 1}  {side:<11} {a.n / run.elapsed:8.0f} msgs/s  ({run.elapsed:.2f} s; "
                f"client CPU {(run.loop_cpu + run.queue_cpu) / a.n * 1e6:.0f} us/msg"
                f"{split if side == 'mailgui' else ''})",
                flush=True,
            )
    print()
    for side, values in rates.items():
        if values:
            print(f"{side:<11} msgs/s {spread(values)}   client CPU us/msg {spread(cpu[side])}")

    def ratio(top: str, bottom: str, target: str) -> None:
        if rates[top] and rates[bottom]:
            # Each round runs every side back to back: a per-round ratio cancels most of a shared machine's noise.
            ratios = [t / b for t, b in zip(rates[top], rates[bottom], strict=True)]
            print(f"{top} / {bottom}: {spread(ratios, '{:.0%}')}   target {target}")

    ratio("mailgui-cli", "bare", ">= 100%")
    ratio("mailgui", "bare", "(process start excluded)")
    ratio("mailgui-cli", "pipelined", ">= 50%")
    ratio("mailgui", "pipelined", ">= 50%")
    print()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=6000, help="messages per run (default 6000)")
    p.add_argument("-c", "--connections", type=int, default=4, help="SMTP connections (default 4)")
    p.add_argument("--rounds", type=int, default=5, help="rounds of every side (default 5)")
    p.add_argument("--sink", choices=("smtp-sink", "aiosmtpd", "both"), default="both")
    p.add_argument("--only", choices=SIDES, help="run one side only (profiling)")
    p.add_argument("--batch", type=int, help="mailgui (in process): messages a claim takes (default: the worker's)")
    p.add_argument("--profile", type=Path, help="write a cProfile of the mailgui runs to this file")
    p.add_argument("--dir", type=Path, default=None, help="directory for the queue files (default: a temp dir)")
    a = p.parse_args()

    messages = make_messages(a.n)
    sinks = {"smtp-sink": [PostfixSink], "aiosmtpd": [AiosmtpdSink], "both": [PostfixSink, AiosmtpdSink]}[a.sink]
    with tempfile.TemporaryDirectory(dir=a.dir, prefix="mailgui-bench-") as tmp:
        for make in sinks:
            with make() as sink:
                bench_sink(sink, a, messages, Path(tmp))


if __name__ == "__main__":
    main()
