"""Every task the worker starts has its end watched: a sender or the recorder dying of a bug stops sending at once,
logged with its traceback, and the run says why (never a worker that goes on with a dead recorder, or a feed that
nobody empties)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from mailgui.clock import FakeClock
from mailgui.delivery import RelayTarget
from mailgui.errors import SendingStoppedError
from mailgui.queue import ClaimedMessage, Queue, Status
from tests.delivery.conftest import Enqueue
from tests.delivery.helpers import make_worker
from tests.logfail import Allowed
from tests.smtpserver import SMTPTestServer

pytestmark = pytest.mark.allow_log(
    Allowed("mailgui.delivery.running", logging.ERROR, r"^delivery: the (sender|recorder) failed; sending stops"),
    Allowed("mailgui.delivery.worker", logging.ERROR, r"^sending stopped: "),
    Allowed("mailgui.delivery.running", logging.WARNING, r"^stopping: \d+ messages sent but not recorded "),
)


class Bug(RuntimeError):
    pass


@pytest.mark.parametrize("task", ["sender", "recorder"])
async def test_a_task_of_the_worker_that_dies_stops_sending_and_says_why(
    authorized: Queue,
    clock: FakeClock,
    target: RelayTarget,
    smtp_server: SMTPTestServer,
    enqueue: Enqueue,
    caplog: pytest.LogCaptureFixture,
    task: str,
) -> None:
    ids = [enqueue(f"user{n}@example.org") for n in range(5)]
    worker = make_worker(authorized, clock, target)
    if task == "sender":

        async def process(msg: ClaimedMessage) -> None:
            raise Bug("a sender's bug")

        worker.process = process  # type: ignore[method-assign]
    else:
        real_flush, calls = worker.flush, []

        async def flush(want: int = 0) -> list[ClaimedMessage]:
            calls.append(want)
            if len(calls) == 1:
                raise Bug("the recorder's bug")
            return await real_flush(want)  # the run's last write, on the way out, records what went

        worker.flush = flush  # type: ignore[method-assign]

    with caplog.at_level(logging.INFO), pytest.raises(SendingStoppedError) as stopped:
        await asyncio.wait_for(worker.run(asyncio.Event()), 10)  # nobody asks it to stop: it stops itself

    assert f"the {task} failed (Bug:" in str(stopped.value)
    assert worker.state.name == "failed"
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert logged and isinstance(logged[0].exc_info[1], Bug)  # with its traceback
    if task == "sender":
        assert smtp_server.received == []  # nothing went out
        assert {authorized.get_message(i).summary.status for i in ids} <= {Status.QUEUED, Status.SENDING}
    else:  # nothing more was claimed after the failure: only what was in flight went, and it is recorded
        assert len(smtp_server.received) <= len(ids)
        sent = {r.rcpt_tos[0] for r in smtp_server.received}
        for mid in ids:
            summary = authorized.get_message(mid).summary
            assert (summary.status == Status.SENT) == (summary.recipients[0].address in sent), summary
