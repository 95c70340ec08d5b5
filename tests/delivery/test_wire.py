"""SmtpWire's read deadlines: one timer per connection, re-armed when it fires before the deadline in force."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mailgui.delivery.wire import Disconnected, SmtpWire


@pytest.fixture
async def wire() -> AsyncIterator[tuple[SmtpWire, asyncio.StreamWriter]]:
    """A wire connected to a real server on 127.0.0.1; the test writes the server's replies itself."""
    accepted: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, w = await asyncio.get_running_loop().create_connection(SmtpWire, "127.0.0.1", port)
    writer = await accepted
    try:
        yield w, writer
    finally:
        w.abort()
        writer.close()
        server.close()
        await server.wait_closed()


async def test_a_reply_that_does_not_come_by_the_deadline_is_a_timeout(wire) -> None:
    w, _ = wire
    w.expect_greeting()
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError):
        await w.read(loop.time() - 1)  # already past: the timer fires on the next turn of the loop


async def test_a_timer_that_fires_before_the_deadline_in_force_waits_on_and_the_reply_is_read(wire) -> None:
    w, server = wire
    loop = asyncio.get_running_loop()
    w.expect_greeting()
    server.write(b"220 hi\r\n")
    assert (await w.read(loop.time() + 0.5)).code == 220  # arms the one timer, at +0.5 s
    w.send(b"NOOP\r\n")
    later = loop.time() + 60
    read = asyncio.ensure_future(w.read(later))
    await asyncio.sleep(0)  # the read is now waiting, under the later deadline
    timer = w._timer
    assert timer is not None and w._timer_at < later  # the earlier read's timer, still armed
    timer.cancel()
    w._on_timer()  # as if it came due now: the deadline in force is a minute away
    assert not read.done()
    assert w._timer is not None and w._timer_at == later  # re-armed for the deadline in force
    server.write(b"250 ok\r\n")
    assert (await read).code == 250


async def test_no_timer_is_left_once_the_connection_is_gone(wire) -> None:
    w, server = wire
    loop = asyncio.get_running_loop()
    w.expect_greeting()
    server.write(b"220 hi\r\n")
    await w.read(loop.time() + 30)
    assert w._timer is not None
    server.close()
    w.send(b"QUIT\r\n")
    with pytest.raises(Disconnected):  # closed, or reset: either way the server is gone
        await w.read(loop.time() + 30)
    await asyncio.sleep(0)
    assert w._timer is None or w._timer.cancelled()
