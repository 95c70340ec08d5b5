"""The hostile test relay (tests/hostile_relay.py) does what its script says, and records what it really took.

Driven with raw sockets, not mailgui's client: the relay is the yardstick the delivery tests judge the client by.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from tests.hostile_relay import (
    ABORT,
    DEFAULT,
    DUPLICATE,
    HANG,
    LATER,
    Chop,
    CutData,
    Extra,
    Flood,
    HostileRelay,
    Reply,
    reply,
    split,
    truly_delivered,
)
from tests.smtpserver import make_tls

MESSAGE = b"Message-ID: <m1@example.com>\r\nSubject: hi\r\n\r\n..a dot-stuffed line\r\nbye\r\n"


async def read_reply(reader: asyncio.StreamReader) -> bytes:
    """One whole reply (all its lines)."""
    out = b""
    while True:
        line = await asyncio.wait_for(reader.readline(), 5)
        out += line
        if not line or line[3:4] != b"-":
            return out


async def talk(relay: HostileRelay) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
    return reader, writer


async def test_a_pipelined_transaction_is_read_in_order_and_recorded_as_delivered() -> None:
    async with HostileRelay(pipelining=True) as relay:
        reader, writer = await talk(relay)
        assert (await read_reply(reader)).startswith(b"220 ")
        writer.write(b"EHLO client.test\r\n")
        assert b"250-PIPELINING\r\n" in await read_reply(reader)
        writer.write(
            b"MAIL FROM:<ann@example.com>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<cy@example.org>\r\nDATA\r\n"
        )
        answers = [await read_reply(reader) for _ in range(4)]
        assert [a[:3] for a in answers] == [b"250", b"250", b"250", b"354"]
        writer.write(MESSAGE + b".\r\n")
        assert (await read_reply(reader)).startswith(b"250 ")
        writer.write(b"QUIT\r\n")
        assert (await read_reply(reader)).startswith(b"221 ")
        assert await reader.read() == b""
        writer.close()

    [conn] = relay.connections
    assert ["MAIL", "RCPT", "RCPT", "DATA"] in conn.groups()  # one read carried the pipelined group
    [txn] = relay.transactions
    assert txn.data == MESSAGE.replace(b"\n..a", b"\n.a")  # dot-unstuffed
    assert truly_delivered(relay) == {("<m1@example.com>", "bob@example.org"), ("<m1@example.com>", "cy@example.org")}
    assert relay.errors == []


async def test_what_the_script_says_is_written_and_the_state_follows_the_commands_own_reply() -> None:
    async with HostileRelay() as relay:
        relay.script.on("GREETING", DEFAULT, Extra(b"250 unasked\r\n"))
        relay.script.on("EHLO", *split(b"250 mx.hostile.test\r\n", 2, 9))
        relay.script.on("MAIL", LATER)  # its 250 comes after the RCPT's reply
        relay.script.on("RCPT", DEFAULT, DUPLICATE, when=lambda s: s.rcpt == 1)
        relay.script.on("RCPT", *reply(b"550 5.1.1 M\xfcller unknown"), when=lambda s: s.rcpt == 2)
        relay.script.on("DATA", *reply("250 2.0.0 not 354"))
        reader, writer = await talk(relay)
        assert await read_reply(reader) == b"220 mx.hostile.test ESMTP hostile\r\n"
        assert await read_reply(reader) == b"250 unasked\r\n"
        writer.write(b"EHLO c\r\n")
        assert await read_reply(reader) == b"250 mx.hostile.test\r\n"
        writer.write(b"MAIL FROM:<ann@example.com>\r\n")
        writer.write(b"RCPT TO:<bob@example.org>\r\n")
        assert [await read_reply(reader) for _ in range(3)] == [b"250 2.1.5 Ok\r\n"] * 2 + [b"250 2.1.0 Ok\r\n"]
        writer.write(b"RCPT TO:<m@example.org>\r\n")
        assert await read_reply(reader) == b"550 5.1.1 M\xfcller unknown\r\n"
        writer.write(b"DATA\r\n")
        assert await read_reply(reader) == b"250 2.0.0 not 354\r\n"
        writer.write(MESSAGE + b".\r\n")  # no 354: these are commands to the server, not a message
        writer.close()
        await relay.settle()

    [conn] = relay.connections
    assert conn.transcript[2:5] == [("S", b"25"), ("S", b"0 mx.ho"), ("S", b"stile.test\r\n")]  # three writes
    assert "?SUBJECT:" in conn.verbs()  # the message, sent without a 354, was read as commands
    [txn] = relay.transactions
    assert (txn.accepted, txn.refused, txn.said_354, txn.data) == (["bob@example.org"], ["m@example.org"], False, None)
    assert truly_delivered(relay) == set()
    assert relay.errors == []


async def test_starttls_injection_is_written_in_the_same_write_and_plain_text_after_starttls_is_discarded(
    tmp_path: Path,
) -> None:
    tls = make_tls(tmp_path)
    injected = b"220 2.0.0 Ready\r\n250 fake EHLO\r\n250 fake MAIL\r\n"
    async with HostileRelay(tls=tls) as relay:
        relay.script.on("STARTTLS", Reply(b"220 2.0.0 Ready\r\n"), Extra(b"250 fake EHLO\r\n250 fake MAIL\r\n"))
        reader, writer = await talk(relay)
        await read_reply(reader)
        writer.write(b"EHLO c\r\n")
        assert b"250-STARTTLS\r\n" in await read_reply(reader)
        writer.write(b"STARTTLS\r\nNOOP\r\n")  # the NOOP is plain text a server must not take across
        assert await read_reply(reader) == b"220 2.0.0 Ready\r\n"
        # This client reads the faked replies as what they are (unasked), and goes on to the handshake.
        assert [await read_reply(reader) for _ in range(2)] == [b"250 fake EHLO\r\n", b"250 fake MAIL\r\n"]
        context = ssl.create_default_context(cafile=str(tls.ca_file))
        await writer.start_tls(context, server_hostname="127.0.0.1")
        writer.write(b"EHLO c\r\n")
        assert b"STARTTLS" not in await read_reply(reader)
        writer.write(b"QUIT\r\n")
        assert (await read_reply(reader)).startswith(b"221")
        writer.close()

    [conn] = relay.connections
    assert ("S", injected) in conn.transcript  # one write: the 220 and the faked replies together
    assert conn.tls and conn.discarded_at_tls == b"NOOP\r\n"
    assert conn.verbs() == ["EHLO", "STARTTLS", "EHLO", "QUIT"]
    assert relay.errors == []


async def test_a_flood_stops_when_the_client_goes_and_counts_what_it_wrote() -> None:
    async with HostileRelay() as relay:
        relay.script.on("EHLO", Flood(b"250-" + b"x" * 1020 + b"\r\n", 64 << 20))
        reader, writer = await talk(relay)
        await read_reply(reader)
        writer.write(b"EHLO c\r\n")
        got = 0
        while got < 100_000:
            got += len(await reader.read(65536))
        writer.transport.abort()
        await relay.settle()
    assert 100_000 <= relay.sent < 64 << 20


async def test_chop_writes_the_normal_reply_in_pieces() -> None:
    async with HostileRelay() as relay:
        relay.script.on("GREETING", Chop((1, 4, 999)))
        reader, writer = await talk(relay)
        assert await read_reply(reader) == b"220 mx.hostile.test ESMTP hostile\r\n"
        writer.close()
        await relay.settle()
    assert [data for who, data in relay.connections[0].transcript if who == "S"] == [
        b"2",
        b"20 ",
        b"mx.hostile.test ESMTP hostile\r\n",
    ]


async def test_cut_data_and_abort_end_the_session_with_nothing_delivered() -> None:
    async with HostileRelay() as relay:
        relay.script.on("DATA", DEFAULT, CutData(10))
        relay.script.on("RSET", ABORT)
        for _ in range(2):
            reader, writer = await talk(relay)
            await read_reply(reader)
            writer.write(b"HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
            assert [(await read_reply(reader))[:3] for _ in range(4)] == [b"250", b"250", b"250", b"354"]
            writer.write(MESSAGE)
            assert await reader.read() == b""  # cut
            writer.close()
        reader, writer = await talk(relay)
        await read_reply(reader)
        writer.write(b"RSET\r\n")
        assert await reader.read() == b""
        writer.close()
    assert [t.data for t in relay.transactions] == [None, None]
    assert truly_delivered(relay) == set()
    assert relay.errors == []


async def test_a_hang_at_starttls_ends_when_the_client_goes(tmp_path: Path) -> None:
    """Reading is paused while STARTTLS is answered (the ClientHello must reach the handshake); a hang must
    resume it, or the client's leaving would go unseen and the session never end."""
    async with HostileRelay(tls=make_tls(tmp_path)) as relay:
        relay.script.on("STARTTLS", HANG)
        reader, writer = await talk(relay)
        await read_reply(reader)
        writer.write(b"EHLO c\r\nSTARTTLS\r\n")
        await read_reply(reader)
        writer.close()
        await relay.settle(timeout=5)
    assert relay.errors == []
    assert relay.connections[0].verbs() == ["EHLO", "STARTTLS"]
