"""Fixtures for delivery: a real SMTP server on a free 127.0.0.1 port, TLS files, a worker on the test queue."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import RelayTarget, RetryPolicy, Worker
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue
from tests.smtpserver import SMTPTestServer, TLSFiles


@pytest.fixture(params=[False, True], ids=["lockstep", "pipelining"])
async def smtp_server(request: pytest.FixtureRequest) -> AsyncIterator[SMTPTestServer]:
    """The plain test server, once without PIPELINING and once with it: every delivery test that uses it proves
    the pipelined transaction gives the same outcomes as one command at a time."""
    async with SMTPTestServer(pipelining=request.param) as server:
        yield server


@pytest.fixture
def tls_files(smtp_tls: TLSFiles) -> TLSFiles:
    return smtp_tls


@pytest.fixture
def target(smtp_server: SMTPTestServer) -> RelayTarget:
    return RelayTarget("127.0.0.1", smtp_server.port, "none", timeout=5.0, connections=2, helo_name="client.test")


@pytest.fixture
def policy() -> RetryPolicy:
    """The default schedule (300 s doubling to 4,000 s, 5 days) without jitter, so retry times are exact."""
    return RetryPolicy(jitter=0.0)


@pytest.fixture
async def worker(
    authorized: Queue, clock: FakeClock, target: RelayTarget, policy: RetryPolicy
) -> AsyncIterator[Worker]:
    w = Worker(
        authorized,
        clock=clock,
        relay=target,
        owner="test-worker",
        policy=policy,
        rng=random.Random(7),
        reporting_mta="mailgui.test",
    )
    yield w
    await w.aclose()


Enqueue = Callable[..., int]


@pytest.fixture
def enqueue(authorized: Queue, clock: FakeClock) -> Enqueue:
    """enqueue(to=..., cc=..., subject=..., body=...) -> queue id, from ann@example.com."""

    def add(
        to: str | list[str] = "bob@example.org",
        *,
        cc: str | list[str] | None = None,
        bcc: str | list[str] | None = None,
        subject: str = "Hello",
        body: str = "Hi Bob,\n\nsee you at noon.\n",
        sender: str = "Ann <ann@example.com>",
    ) -> int:
        msg = build_message(
            MessageFields(sender=sender, to=to, cc=cc, bcc=bcc, subject=subject, body=body), now=clock.now()
        )
        return authorized.enqueue(msg)

    return add
