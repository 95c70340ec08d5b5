"""A hostile SMTP server for tests: it says any bytes at any point of the dialogue, and records what it really took.

Not aiosmtpd: a server that can be told to break the dialogue must not be one that keeps it. Each step asks the
script what to do (the ops are in tests/hostile_script.py, re-exported here)::

    relay = HostileRelay(pipelining=True)
    relay.script.on("DATA", *reply("250 2.0.0 ok"))                   # 250 where only 354 may come
    relay.script.on("GREETING", DEFAULT, Extra(b"250 ok\\r\\n"))         # an unsolicited line after the greeting
    relay.script.on("RCPT", *reply("452 4.5.3 too many"), when=lambda s: s.rcpt > 3)
    relay.script.on("EOD", *reply(b"550 5.1.1 M\\xfcller"), times=1)    # not UTF-8, once
    relay.script.on("RCPT", Flood(b"250-x\\r\\n", 10 << 20))               # a reply that never ends

or ``HostileRelay(script)`` with any function of a :class:`Step`. Commands are read one line at a time, in order,
however many came in one read (pipelining). Each connection keeps its transcript, the commands of each read
(``ConnectionRecord.groups``), the bytes it wrote, and its transactions; :func:`truly_delivered` says which
(Message-ID, recipient) pairs the server really took.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.hostile_script import (
    ABORT,
    CLOSE,
    DEFAULT,
    DUPLICATE,
    GAP,
    HANG,
    LATER,
    STEPS,
    Action,
    Chop,
    ConnectionRecord,
    CutData,
    Extra,
    Flood,
    Op,
    Reply,
    Script,
    Step,
    Transaction,
    first_code,
    reply,
    split,
)
from tests.smtpserver import TLSFiles

__all__ = [
    "ABORT",
    "CLOSE",
    "DEFAULT",
    "DUPLICATE",
    "GAP",
    "HANG",
    "LATER",
    "STEPS",
    "Action",
    "Chop",
    "ConnectionRecord",
    "CutData",
    "Extra",
    "Flood",
    "HostileRelay",
    "Op",
    "Reply",
    "Script",
    "Step",
    "Transaction",
    "reply",
    "split",
    "truly_delivered",
]

HOST = "127.0.0.1"
MAX_LINE = 1 << 20  # a client line longer than this ends the session (a test's bug, not a dialogue)


def truly_delivered(relay: HostileRelay) -> set[tuple[str | None, str]]:
    """(Message-ID, recipient) for each recipient the server accepted in a transaction whose data it read whole
    after its 354, and answered with 250: the only deliveries there were."""
    return {(t.marker, rcpt) for t in relay.transactions if t.delivered for rcpt in t.accepted}


class _Conn(asyncio.Protocol):
    """One client connection: a byte buffer the session reads lines from, and flow control for its writes."""

    def __init__(self, relay: HostileRelay, record: ConnectionRecord):
        self.relay = relay
        self.record = record
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.base = 0  # offset, in all bytes ever received, of buffer[0]
        self.read_ends: list[int] = []  # offset just past each read
        self.eof = False
        self.gone = asyncio.get_running_loop().create_future()
        self._wakeup = asyncio.Event()
        self._can_write = asyncio.Event()
        self._can_write.set()
        self.task: asyncio.Task[None] | None = None
        self.stash: bytes | None = None  # a reply held back to go after the next command's (LATER)
        self.cut: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.task = asyncio.get_running_loop().create_task(self.relay._serve(self))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.record.reads += 1
        self.read_ends.append(self.base + len(self.buffer))
        self._wakeup.set()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wakeup.set()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._wakeup.set()
        self._can_write.set()
        if not self.gone.done():
            self.gone.set_result(None)

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing() and not self.gone.done()

    async def readline(self) -> tuple[bytes, int] | None:
        """The next line (CRLF kept) and the index of the read that completed it; None once the client is gone."""
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[: end + 1])
                index = bisect.bisect_right(self.read_ends, self.base + end)
                del self.buffer[: end + 1]
                self.base += end + 1
                return line, index
            if self.eof or len(self.buffer) > MAX_LINE:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    def discard_buffer(self) -> bytes:
        gone = bytes(self.buffer)
        self.base += len(self.buffer)
        self.buffer.clear()
        return gone

    async def write(self, data: bytes) -> None:
        if data and self.open:
            assert self.transport is not None
            self.transport.write(data)
            self.record.sent += len(data)
            self.record.transcript.append(("S", data))
            await self._can_write.wait()

    async def until_gone(self) -> None:
        """Silence until the client goes. Reading goes on (paused, as before STARTTLS, its leaving goes unseen)."""
        if self.transport is not None and not self.transport.is_closing() and not self.transport.is_reading():
            self.transport.resume_reading()
        await self.gone

    async def drained(self) -> None:
        """Return once this side's buffer is empty, a turn of the loop later at the least (so a client in the
        same loop reads what came before more is written)."""
        await asyncio.sleep(0)
        while self.open and self.transport is not None and self.transport.get_write_buffer_size():
            await asyncio.sleep(0)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class HostileRelay:
    """See the module docstring. ``async with HostileRelay(...) as relay`` binds a free port (``relay.port``)."""

    def __init__(
        self,
        script: Callable[[Step], Action | None] | None = None,
        *,
        pipelining: bool = False,
        smtputf8: bool = True,
        eightbitmime: bool = True,
        tls: TLSFiles | None = None,
        auth: bool = False,
        hostname: str = "mx.hostile.test",
    ):
        self.script: Script = script if isinstance(script, Script) else Script()
        self._fn = script if script is not None and not isinstance(script, Script) else None
        self.pipelining = pipelining
        self.smtputf8 = smtputf8
        self.eightbitmime = eightbitmime
        self.tls = tls
        self.auth = auth
        self.hostname = hostname
        self.port = 0
        self.connections: list[ConnectionRecord] = []
        self.errors: list[BaseException] = []  # the server's own failures: a test should find none
        self._counts: dict[str, int] = {}
        self._conns: list[_Conn] = []
        self._server: asyncio.Server | None = None

    @property
    def transactions(self) -> list[Transaction]:
        return [t for c in self.connections for t in c.transactions]

    @property
    def sent(self) -> int:
        return sum(c.sent for c in self.connections)

    # -- life -----------------------------------------------------------------------------------------------
    async def __aenter__(self) -> HostileRelay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> int:
        self._server = await asyncio.get_running_loop().create_server(self._new, HOST, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout`` s) until every session has ended: the client has gone from each connection and
        the server has read all it sent. Call it after the client closed, before reading the records."""
        tasks = [c.task for c in self._conns if c.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for conn in self._conns:
                if conn.task in pending:  # the relay's own fault (the client had gone): the test says so
                    self.errors.append(RuntimeError(f"session {conn.record.number} did not end in {timeout} s"))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in self._conns:
            conn.abort()
        tasks = [c.task for c in self._conns if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _new(self) -> _Conn:
        record = ConnectionRecord(len(self.connections) + 1)
        self.connections.append(record)
        conn = _Conn(self, record)
        self._conns.append(conn)
        return conn

    # -- the dialogue ---------------------------------------------------------------------------------------
    async def _serve(self, conn: _Conn) -> None:
        record = conn.record
        state = _State()
        try:
            if not await self._step(conn, state, "GREETING", b""):
                return
            while True:
                got = await conn.readline()
                if got is None:
                    record.closed_by_client = True
                    return
                line, index = got
                record.transcript.append(("C", line))
                verb, arg = _parse(line)
                record.commands.append((verb, index))
                if not await self._step(conn, state, verb, arg):
                    return
        except asyncio.CancelledError:
            raise
        except (ConnectionError, ssl.SSLError, TimeoutError) as exc:
            record.transcript.append(("*", f"{type(exc).__name__}: {exc}".encode()))
        except Exception as exc:  # a bug of the relay itself: the test asserts relay.errors is empty
            self.errors.append(exc)
        finally:
            conn.abort()

    def _default(self, conn: _Conn, state: _State, verb: str) -> bytes:
        if verb == "GREETING":
            return f"220 {self.hostname} ESMTP hostile\r\n".encode()
        if verb == "EHLO":
            lines = [self.hostname]
            lines += ["PIPELINING"] * self.pipelining + ["8BITMIME"] * self.eightbitmime
            lines += ["SMTPUTF8"] * self.smtputf8
            lines += ["STARTTLS"] * bool(self.tls and not conn.record.tls) + ["AUTH PLAIN"] * self.auth
            lines.append("HELP")
            return b"".join(f"250{'-' if i < len(lines) - 1 else ' '}{x}\r\n".encode() for i, x in enumerate(lines))
        if verb == "HELO":
            return f"250 {self.hostname}\r\n".encode()
        if verb == "STARTTLS":
            return b"220 2.0.0 Ready to start TLS\r\n" if self.tls and not conn.record.tls else b"502 5.5.1 no\r\n"
        if verb == "AUTH":
            return b"235 2.7.0 Authentication successful\r\n"
        if verb == "MAIL":
            return b"503 5.5.1 Error: nested MAIL command\r\n" if state.txn else b"250 2.1.0 Ok\r\n"
        if verb == "RCPT":
            return b"250 2.1.5 Ok\r\n" if state.txn else b"503 5.5.1 Error: need MAIL command\r\n"
        if verb == "DATA":
            if state.txn and state.txn.accepted:
                return b"354 End data with <CR><LF>.<CR><LF>\r\n"
            return b"554 5.5.1 Error: no valid recipients\r\n"
        if verb == "EOD":
            return f"250 2.0.0 Ok: queued as {len(self.transactions)}\r\n".encode()
        if verb in ("RSET", "NOOP"):
            return b"250 2.0.0 Ok\r\n"
        if verb == "QUIT":
            return b"221 2.0.0 Bye\r\n"
        return b"500 5.5.2 Error: command not recognized\r\n"

    async def _step(self, conn: _Conn, state: _State, verb: str, arg: bytes) -> bool:
        """Answer one step as scripted, and follow what was answered. False: the session is over."""
        record = conn.record
        self._counts[verb] = self._counts.get(verb, 0) + 1
        state.counts[verb] = state.counts.get(verb, 0) + 1
        rcpt = (len(state.txn.accepted) + len(state.txn.refused) + 1) if (verb == "RCPT" and state.txn) else 0
        step = Step(verb, arg, record.number, state.counts[verb], self._counts[verb], rcpt, record.tls)
        ops = self._fn(step) if self._fn is not None else self.script(step)
        default = self._default(conn, state, verb)
        if ops is None:
            ops = (DEFAULT, CLOSE) if verb == "QUIT" else (DEFAULT,)
        tls_next = verb == "STARTTLS" and self.tls is not None and not record.tls and conn.transport is not None
        if tls_next:
            # The client's ClientHello may come while the ops are still writing (after a GAP): it must reach the
            # handshake, not this plain-text buffer. What was read before STARTTLS's reply is thrown away.
            conn.transport.pause_reading()  # type: ignore[union-attr]
        own, go_on = await self._perform(conn, ops, default)
        code = first_code(own) if own is not None else None
        record.answers.append((verb, _address(arg) if verb == "RCPT" else "", code))
        if tls_next and code != 220 and conn.open:
            conn.transport.resume_reading()  # type: ignore[union-attr]
        if verb == "EOD" and state.txn is not None:
            state.txn.end_code = code  # answered, then hung up: it still answered
        if not go_on:
            return False
        return await self._follow(conn, state, verb, arg, code)

    async def _perform(self, conn: _Conn, ops: Action, default: bytes) -> tuple[bytes | None, bool]:
        """Do the ops: (the command's own reply bytes, or None if it had none; whether the session goes on)."""
        pending = bytearray()
        own: bytearray | None = None
        later: bytes | None = None
        for op in ops:
            if op is DEFAULT or isinstance(op, Reply):
                data = default if op is DEFAULT else op.data  # type: ignore[union-attr]
                pending += data
                own = (own or bytearray()) + data
            elif isinstance(op, Extra):
                pending += op.data
            elif isinstance(op, Chop):
                own = (own or bytearray()) + default
                cuts = [0, *sorted(a for a in op.at if 0 < a < len(default)), len(default)]
                for start, end in itertools.pairwise(cuts):
                    if start:
                        await conn.write(bytes(pending))
                        pending.clear()
                        await asyncio.sleep(0)
                    pending += default[start:end]
            elif op is DUPLICATE:
                pending += default
            elif op is LATER:
                later = default
                own = (own or bytearray()) + default
            elif op is GAP:
                await conn.write(bytes(pending))
                pending.clear()
                await asyncio.sleep(0)
            elif isinstance(op, CutData):
                conn.cut = op.after
            elif isinstance(op, Flood):
                await conn.write(bytes(pending))
                pending.clear()
                flooded = 0
                while conn.open and flooded < op.limit:
                    await conn.write(op.chunk)
                    flooded += len(op.chunk)
                    await conn.drained()  # one chunk a turn of the loop: as fast as the client reads, no faster
                await conn.until_gone()
                return _own(own), False
            elif op in (CLOSE, ABORT, HANG):
                await conn.write(bytes(pending))
                if op is CLOSE and conn.transport is not None:
                    conn.transport.close()
                elif op is ABORT:
                    conn.abort()
                else:
                    await conn.until_gone()
                return _own(own), False
        await conn.write(bytes(pending))
        if conn.stash is not None:
            await conn.write(conn.stash)
        conn.stash = later
        return _own(own), True

    async def _follow(self, conn: _Conn, state: _State, verb: str, arg: bytes, code: int | None) -> bool:
        """What the server does after its reply, by its code: the server's own state, and DATA/STARTTLS/QUIT."""
        record = conn.record
        if verb in ("EHLO", "HELO", "RSET") and code == 250:
            state.txn = None
        elif verb == "MAIL" and code == 250:
            state.txn = Transaction(record.number, _address(arg))
            record.transactions.append(state.txn)
        elif verb == "RCPT" and state.txn is not None:
            (state.txn.accepted if code in (250, 251) else state.txn.refused).append(_address(arg))
        elif verb == "DATA" and code == 354:
            txn = state.txn
            if txn is None:
                txn = Transaction(record.number, None)
                record.transactions.append(txn)
            txn.said_354 = True
            state.txn = None
            txn.data = await self._read_data(conn)
            if txn.data is None:
                return False
            return await self._step_end_of_data(conn, state, txn)
        elif verb == "STARTTLS" and code == 220 and self.tls is not None and not record.tls:
            return await self._start_tls(conn, state)
        return conn.open

    async def _step_end_of_data(self, conn: _Conn, state: _State, txn: Transaction) -> bool:
        state.txn = txn  # so that a hang-up after answering still records the answer
        try:
            going = await self._step(conn, state, "EOD", b"")
        finally:
            state.txn = None
        return going

    async def _read_data(self, conn: _Conn) -> bytes | None:
        """The message up to CRLF.CRLF, dot-unstuffed; None if the client went first (or CutData hung up)."""
        data = bytearray()
        got = 0
        while True:
            line_and_index = await conn.readline()
            if line_and_index is None:
                return None
            line = line_and_index[0]
            conn.record.transcript.append(("C", line))
            if line == b".\r\n":
                return bytes(data)
            got += len(line)
            data += line[1:] if line.startswith(b".") else line
            if conn.cut is not None and got >= conn.cut:
                conn.cut = None
                conn.record.transcript.append(("*", b"cut mid-DATA"))
                conn.abort()
                return None

    async def _start_tls(self, conn: _Conn, state: _State) -> bool:
        assert self.tls is not None and conn.transport is not None
        record = conn.record
        record.discarded_at_tls = conn.discard_buffer()  # RFC 3207 section 6: nothing from before counts
        transport = await asyncio.get_running_loop().start_tls(
            conn.transport, conn, self.tls.server_context, server_side=True, ssl_handshake_timeout=10
        )
        if transport is None:
            return False
        conn.transport = transport
        record.tls = True
        record.transcript.append(("*", b"TLS"))
        state.txn = None
        return True


@dataclass
class _State:
    txn: Transaction | None = None
    counts: dict[str, int] = field(default_factory=dict)


def _own(own: bytearray | None) -> bytes | None:
    return bytes(own) if own is not None else None


def _parse(line: bytes) -> tuple[str, bytes]:
    text = line.rstrip(b"\r\n")
    upper = text.upper()
    for prefix, verb in ((b"MAIL FROM:", "MAIL"), (b"RCPT TO:", "RCPT")):
        if upper.startswith(prefix):
            return verb, text[len(prefix) :].strip()
    word, _, arg = text.partition(b" ")
    verb = word.decode("ascii", "replace").upper()
    return (verb if verb in STEPS else f"?{verb[:20]}"), arg


def _address(arg: bytes) -> str:
    m = re.match(rb"\s*<([^>]*)>", arg)
    return (m.group(1) if m else arg.split(b" ")[0]).decode("utf-8", "replace")
