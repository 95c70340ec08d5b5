"""Delivery throughput: mailgui's worker against a minimal aiosmtplib loop (the ceiling), to a fast local sink.

    .venv/bin/python bench/deliver.py                 # N=2,000 messages, 4 connections, 5 rounds
    .venv/bin/python bench/deliver.py -n 5000 -c 8 --rounds 5
    .venv/bin/python bench/deliver.py --only mailgui --profile /tmp/deliver.prof   # then pstats

The sink is aiosmtpd in a separate process (its own core, its own event loop), answering 250 to everything and
counting what it got, so the client side is what is measured. In each round, on the same sink, over the same
number of reused connections:

- ceiling: ``aiosmtplib.SMTP.sendmail`` in a loop per connection, from a list of ready-made messages, no queue,
  with RSET before each reuse of a connection: the same SMTP dialogue as mailgui's (the issue asks for RSET
  between messages; Postfix sends it too), so the ratio is the cost of the queue and nothing else;
- bare: the same loop without RSET (one command fewer a message); printed for reference, not the target;
- mailgui: the same messages, queued beforehand (not timed), then ``Worker.run(until_idle=True)`` with the
  system clock: claims with leases, RSET/MAIL/RCPT/DATA per message, every outcome committed to the queue
  file (WAL, synchronous=FULL), events published.

Every time includes opening and closing the connections. Prints messages per second, the client's CPU time per
message while timed (the event-loop thread, plus mailgui's queue thread; steadier than wall time on a shared
machine) and mailgui/ceiling per round.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
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
from mailgui.message import MessageFields, OutgoingMessage, build_message
from mailgui.queue import Queue
from mailgui.queue.bulk import enqueue_many

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


class Sink:
    def __enter__(self) -> Sink:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_sink, args=(child,), daemon=True)
        self.proc.start()
        self.port = int(self.conn.recv())
        return self

    def count(self) -> int:
        self.conn.send("count")
        return int(self.conn.recv())

    def __exit__(self, *exc: object) -> None:
        self.conn.send("stop")
        self.proc.join(10)


# -- the clients ---------------------------------------------------------------------------------------
def make_messages(n: int) -> list[OutgoingMessage]:
    now = time.time()
    return [
        build_message(
            MessageFields(
                sender="Ann <ann@example.com>",
                to=f"user{i}@example.org",
                subject=f"Bench message {i}",
                body=f"Hello {i},\n\nthis is a small message of a few lines.\n\n-- \nAnn\n",
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


async def ceiling(port: int, messages: list[OutgoingMessage], connections: int, rset: bool = True) -> Run:
    """aiosmtplib's sendmail in a loop per connection; with ``rset``, RSET before each reuse (as mailgui does)."""
    start, cpu0 = time.perf_counter(), time.thread_time()
    work = iter(messages)

    async def one_connection() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="bench.local", start_tls=False)
        await client.connect()
        used = False
        for msg in work:
            if rset and used:
                await client.rset()
            await client.sendmail(msg.sender.address, [a for a, _ in msg.recipients], msg.raw)
            used = True
        await client.quit()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return Run(time.perf_counter() - start, time.thread_time() - cpu0)


async def mailgui(port: int, messages: list[OutgoingMessage], connections: int, directory: Path) -> Run:
    db = directory / f"bench-{time.monotonic_ns()}.sqlite3"
    clock = SystemClock()
    with Queue(db, clock=clock) as queue:
        queue.add_sender("@example.com")
        enqueue_many(queue, messages)
        target = RelayTarget("127.0.0.1", port, "none", connections=connections, helo_name="bench.local")
        worker = Worker(queue, clock=clock, relay=target)
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
        counts = queue.counts_by_status()
    if counts != {"sent": len(messages)}:
        raise SystemExit(f"mailgui run did not send everything: {counts}")
    return run


SIDES = ("ceiling", "bare", "mailgui")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=2000, help="messages per run (default 2000)")
    p.add_argument("-c", "--connections", type=int, default=4, help="SMTP connections (default 4)")
    p.add_argument("--rounds", type=int, default=5, help="rounds of both runs (default 5)")
    p.add_argument("--only", choices=SIDES, help="run one side only (profiling)")
    p.add_argument("--profile", type=Path, help="write a cProfile of the mailgui runs to this file")
    p.add_argument("--dir", type=Path, default=None, help="directory for the queue files (default: a temp dir)")
    a = p.parse_args()

    messages = make_messages(a.n)
    rates: dict[str, list[float]] = {side: [] for side in SIDES}
    cpu: dict[str, list[float]] = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory(dir=a.dir, prefix="mailgui-bench-") as tmp, Sink() as sink:
        for r in range(a.rounds):
            for side in SIDES:
                if a.only and side != a.only:
                    continue
                before = sink.count()
                if side in ("ceiling", "bare"):
                    run = asyncio.run(ceiling(sink.port, messages, a.connections, rset=side == "ceiling"))
                elif a.profile:
                    import cProfile

                    with cProfile.Profile() as prof:
                        run = asyncio.run(mailgui(sink.port, messages, a.connections, Path(tmp)))
                    prof.dump_stats(a.profile)
                else:
                    run = asyncio.run(mailgui(sink.port, messages, a.connections, Path(tmp)))
                got = sink.count() - before
                if got != a.n:
                    raise SystemExit(f"{side}: the sink got {got} messages, expected {a.n}")
                rates[side].append(a.n / run.elapsed)
                cpu[side].append((run.loop_cpu + run.queue_cpu) / a.n * 1e6)
                split = f" = loop {run.loop_cpu / a.n * 1e6:.0f} + queue thread {run.queue_cpu / a.n * 1e6:.0f}"
                print(
                    f"round {r + 1}  {side:<8} {a.n / run.elapsed:8.0f} msgs/s  ({run.elapsed:.2f} s; "
                    f"client CPU {(run.loop_cpu + run.queue_cpu) / a.n * 1e6:.0f} us/msg"
                    f"{split if side == 'mailgui' else ''})",
                    flush=True,
                )
    print()
    for side, values in rates.items():
        if values:
            print(
                f"{side:<8} median {statistics.median(values):6.0f} msgs/s   best {max(values):6.0f} msgs/s   "
                f"client CPU median {statistics.median(cpu[side]):.0f} us/msg"
            )
    if rates["ceiling"] and rates["mailgui"]:
        # Each round runs both back to back, so a per-round ratio cancels most of the noise of a shared machine.
        ratios = [m / c for m, c in zip(rates["mailgui"], rates["ceiling"], strict=True)]
        print(f"mailgui / ceiling per round: {', '.join(f'{r:.0%}' for r in ratios)}")
        print(f"mailgui / ceiling: median of rounds {statistics.median(ratios):.0%}   target >= 70%")
    if rates["bare"] and rates["mailgui"]:
        ratios = [m / c for m, c in zip(rates["mailgui"], rates["bare"], strict=True)]
        print(f"mailgui / bare (no RSET, reference): median of rounds {statistics.median(ratios):.0%}")


if __name__ == "__main__":
    main()
