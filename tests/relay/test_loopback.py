"""The built-in relay binds to loopback only and refuses any peer that is not this computer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiosmtplib
import pytest

from mailgui.errors import InvalidSettingError
from mailgui.relay import LocalRelay
from mailgui.relay.handler import RelayHandler
from mailgui.relay.loopback import format_peer, is_loopback_peer, loopback_bind_host
from mailgui.relay.server import REFUSED_REPLY, LoopbackSMTP


@pytest.mark.parametrize(
    ("peer", "loopback"),
    [
        (("127.0.0.1", 5000), True),
        (("127.8.9.10", 5000), True),
        (("::1", 5000, 0, 0), True),
        (("::ffff:127.0.0.1", 5000, 0, 0), True),
        (("192.0.2.7", 5000), False),
        (("10.0.0.1", 25), False),
        (("0.0.0.0", 25), False),
        (("2001:db8::1", 5000, 0, 0), False),
        (("::ffff:192.0.2.7", 5000, 0, 0), False),
        (("fe80::1%eth0", 5000, 0, 2), False),
        (("localhost", 5000), False),  # peers are addresses; a name is not trusted
        ("", False),
        (None, False),
        ((), False),
    ],
)
def test_is_loopback_peer(peer: Any, loopback: bool) -> None:
    assert is_loopback_peer(peer) is loopback


def test_format_peer() -> None:
    assert format_peer(("127.0.0.1", 25)) == "127.0.0.1:25"
    assert format_peer(("::1", 25, 0, 0)) == "[::1]:25"


@pytest.mark.parametrize(("host", "bound"), [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("::1", "::1")])
def test_binds_only_loopback_addresses(host: str, bound: str) -> None:
    assert loopback_bind_host(host) == bound


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.com", ""])
def test_refuses_to_bind_anything_else(host: str, db_path: Path) -> None:
    with pytest.raises(InvalidSettingError, match=r"^host: .* is not a loopback address"):
        LocalRelay(db_path, host=host)


def test_port_out_of_range_names_the_field(db_path: Path) -> None:
    with pytest.raises(InvalidSettingError, match=r"^port: 70000 is not valid"):
        LocalRelay(db_path, port=70000)


class FakeTransport(asyncio.Transport):
    """A connection from an address this machine cannot make in a test (another host)."""

    def __init__(self, peer: object) -> None:
        super().__init__()
        self.peer = peer
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.peer if name == "peername" else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


@pytest.mark.parametrize("peer", [("192.0.2.7", 41000), ("::ffff:10.1.2.3", 41000, 0, 0), ("2001:db8::5", 1, 0, 0)])
@pytest.mark.allow_log(
    "mailgui.relay.server", match=r"^local relay: refused a connection from .* \(not this computer\)$"
)
async def test_session_refuses_a_remote_peer_before_the_greeting(peer: object, db_path: Path) -> None:
    relay = LocalRelay(db_path)
    lost: list[LoopbackSMTP] = []
    session = LoopbackSMTP(relay.handler, on_lost=lost.append, hostname="localhost", loop=asyncio.get_running_loop())
    transport = FakeTransport(peer)
    session.connection_made(transport)
    assert transport.written == REFUSED_REPLY
    assert transport.written.startswith(b"554 5.7.1 ")
    assert transport.closed
    assert session.refused
    assert session.session_task is None  # no SMTP dialogue was started
    session.data_received(b"EHLO evil\r\n")  # ignored, no reply
    assert transport.written == REFUSED_REPLY
    session.connection_lost(None)
    assert lost == [session]


async def test_handler_refuses_remote_peer_even_past_the_greeting(db_path: Path) -> None:
    handler = RelayHandler(LocalRelay(db_path).storage)
    envelope = SimpleNamespace(mail_from="a@example.com", mail_options=[], rcpt_tos=[], rcpt_options=[])
    remote = SimpleNamespace(peer=("192.0.2.7", 41000))
    assert (await handler.handle_MAIL(None, remote, envelope, "a@example.com", [])).startswith("554 5.7.1")
    assert (await handler.handle_RCPT(None, remote, envelope, "you@localhost", [])).startswith("554 5.7.1")
    assert envelope.rcpt_tos == []


async def test_a_real_loopback_connection_is_served(db_path: Path) -> None:
    async with LocalRelay(db_path) as relay:
        assert relay.host == "127.0.0.1"
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=relay.port, timeout=10)
        greeting = await client.connect()
        assert greeting.code == 220
        assert "mailgui local relay" in greeting.message
        ehlo = await client.ehlo()
        assert ehlo.code == 250
        assert client.supports_extension("smtputf8")
        assert client.supports_extension("8bitmime")
        await client.quit()
