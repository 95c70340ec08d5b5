"""The built-in local relay's intake: messages per second into its mailbox, against a bare aiosmtpd sink.

    .venv/bin/python bench/local_relay.py                  # N=2,000 messages, 4 connections, 3 rounds
    .venv/bin/python bench/local_relay.py -n 5000 -c 8 --rounds 5

The server runs in a separate process (its own core and loop); the client is aiosmtplib over C reused
connections, sending ready-made ~1 KB messages. Each round measures, on fresh servers:

- sink: aiosmtpd's SMTP protocol served with loop.create_server, answering 250 to DATA, storing nothing
  (the ceiling: SMTP parsing on both sides and the loopback socket);
- relay: mailgui's LocalRelay on a fresh queue file: the loopback check, the simulator's address check, and
  one committed transaction per message (WAL, synchronous=FULL) on the relay's database thread.

Prints messages per second for both, and relay/sink.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosmtplib
from aiosmtpd.smtp import SMTP

from mailgui.relay import LocalRelay


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 Ok"


async def _serve(kind: str, db: str, ready: Any, stop: Any) -> None:
    loop = asyncio.get_running_loop()
    if kind == "relay":
        relay = LocalRelay(db)
        port = await relay.start()
    else:
        server = await loop.create_server(lambda: SMTP(_Sink(), hostname="localhost", loop=loop), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    ready.send(port)
    await loop.run_in_executor(None, stop.recv)
    if kind == "relay":
        await relay.stop()
    else:
        server.close()


def _server_process(kind: str, db: str, ready: Any, stop: Any) -> None:
    asyncio.run(_serve(kind, db, ready, stop))


def _messages(n: int) -> list[bytes]:
    body = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 14).strip()
    return [
        (
            f"From: Ann <ann@example.com>\r\nTo: bob@example.org\r\nSubject: bench {i}\r\n"
            f"Message-ID: <{i}@bench.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{body}\r\n"
        ).encode()
        for i in range(n)
    ]


async def _client(port: int, messages: list[bytes], connections: int) -> float:
    work = list(messages)

    async def one() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
        await smtp.connect()
        while work:
            raw = work.pop()
            await smtp.sendmail("ann@example.com", ["bob@example.org"], raw)
        await smtp.quit()

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(connections)))
    return time.perf_counter() - t0


def _round(kind: str, messages: list[bytes], connections: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        ready_r, ready_w = ctx.Pipe(duplex=False)
        stop_r, stop_w = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_server_process, args=(kind, str(Path(tmp) / "q.sqlite3"), ready_w, stop_r))
        proc.start()
        try:
            port = ready_r.recv()
            elapsed = asyncio.run(_client(port, messages, connections))
        finally:
            stop_w.send(True)
            proc.join(30)
    return len(messages) / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=2000, help="messages per round")
    p.add_argument("-c", "--connections", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    messages = _messages(a.n)
    ratios = []
    for r in range(1, a.rounds + 1):
        sink = _round("sink", messages, a.connections)
        relay = _round("relay", messages, a.connections)
        ratios.append(relay / sink)
        print(
            f"round {r}: sink {sink:,.0f} msg/s   relay {relay:,.0f} msg/s   relay/sink {relay / sink:.0%}", flush=True
        )
    print(
        f"median relay/sink over {a.rounds} rounds: {statistics.median(ratios):.0%} ({a.n} messages, {a.connections} connections)"
    )


if __name__ == "__main__":
    main()
