"""A fuzz of the whole SMTP dialogue: random hostile relays, the real worker, and what must survive any of them.

Each example is a fresh queue with a few messages and a relay (tests/hostile_relay.py) whose script answers any step
of the dialogue (the greeting, EHLO, STARTTLS, AUTH, MAIL, each RCPT, DATA, the end of the data, RSET, QUIT: the
n-th time it comes) with any code, text that is not UTF-8, a reply split across writes, dropped, late, never ended,
duplicated, with lines nobody asked for before or after it, or a hang-up (mid-data too); with and without
PIPELINING, STARTTLS and AUTH, over one or two connections. The worker makes one to three passes, the clock moved on
between them. After each pass: a recipient is delivered in the queue only if the relay took the message for it
(``truly_delivered``), byte for byte; a recipient fails only on a 5xx the relay itself answered (never on a line
added out of turn); no message is left `sending`; a `sent` message has every recipient delivered; the worker never
raises. At the end: every attempt the worker made is recorded, once.

What no client can tell apart is left out by construction, so that a failure is always the client's:

- An example either adds replies (lines nobody asked for, duplicates, two replies joined by a bare LF) or takes
  them away (dropped, late, unfinished, split across writes, a flood), never both: one added and one dropped reply
  make a stream with the right number of replies, and a lie no client can see.
- Added lines are whole lines, written in the same write as a reply of the relay's own, and the relay answers a
  pipelined group in one turn of its loop, so the client reads the surplus together with the replies it is owed. A
  line added in a write of its own could reach the client just after it sent its next command, and be read as
  that command's reply by any client.
- Replies are delayed (``LATER``) only without PIPELINING: two replies swapped within a pipelined group (a RCPT's
  250 and another's 550) are indistinguishable from the truth (RFC 2920 section 3.2 rests on the order).

CI runs ``FUZZ_EXAMPLES`` (500: about 40 s on two cores); ``MAILGUI_FUZZ_EXAMPLES=5000 .venv/bin/pytest
tests/delivery/test_dialogue_fuzz.py -p no:cacheprovider`` runs more by hand (the time limit grows with it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mailgui.clock import FakeClock
from mailgui.message import MessageFields, build_message
from mailgui.queue import Queue, Status
from tests.delivery.helpers import make_worker
from tests.delivery.hostile import assert_sent_means_delivered, hostile_target, run_once
from tests.hostile_relay import (
    ABORT,
    CLOSE,
    DEFAULT,
    DUPLICATE,
    HANG,
    LATER,
    Action,
    Chop,
    CutData,
    Extra,
    Flood,
    HostileRelay,
    Reply,
    Step,
    truly_delivered,
)
from tests.logfail import Allowed, expect_relay_failures
from tests.smtpserver import TLSFiles, make_tls

pytestmark = [
    expect_relay_failures,  # every relay here fails, and the worker says so
    # A report to the sender about mail that needs SMTPUTF8 needs it too: refused by a relay without it, dropped.
    pytest.mark.allow_log(Allowed("mailgui.delivery.reporting", logging.WARNING, r"^delivery report \d+ to <")),
]

FUZZ_EXAMPLES = int(os.environ.get("MAILGUI_FUZZ_EXAMPLES", "500"))
RELAY_TIMEOUT = 0.25  # seconds a silent relay is given: every dropped reply costs this much of the run
# RCPT comes most often; STARTTLS and AUTH are added when the example uses them.
# DATA and the end of the data come twice as often too: a 2xx there is where a lie would make mail look sent.
VERBS = ("GREETING", "EHLO", "MAIL", "RCPT", "RCPT", "DATA", "DATA", "EOD", "EOD", "RSET", "QUIT", "HELO")
# Five, so that a 452 split (the relay takes fewer a transaction) has room; one needs SMTPUTF8.
ADDRESSES = ("a@example.org", "b@example.org", "c@example.org", "d@example.net", "e@example.net", "jörg@example.org")

CODES = st.one_of(
    st.sampled_from(
        [200, 211, 220, 221, 235, 250, 251, 252, 334, 354, 421, 450, 451, 452, 500, 501, 502, 503, 550, 552, 554]
    ),
    st.integers(0, 999),
)
TEXT = st.one_of(
    st.sampled_from([b"", b"2.0.0 Ok", b"4.5.3 Too many recipients", b"5.1.1 Benutzer unbekannt: M\xfcller"]),
    st.binary(max_size=24).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)


@st.composite
def any_reply(draw: st.DrawFn) -> Reply:
    """A whole reply of any code(s), one to three lines, any bytes but CR and LF in its text."""
    lines = draw(st.integers(1, 3))
    codes = [draw(CODES) for _ in range(lines)] if draw(st.booleans()) else [draw(CODES)] * lines
    raw = b"".join(
        b"%03d%s%s\r\n" % (code, b"-" if i < lines - 1 else draw(st.sampled_from([b" ", b""])), draw(TEXT))
        for i, code in enumerate(codes)
    )
    return Reply(raw)


WHOLE_LINES = st.sampled_from(
    [b"250 ok\r\n", b"250 2.1.5 Ok\r\n", b"354 go ahead\r\n", b"550 5.1.1 no\r\n", b"\xff\xfe junk\r\n", b"\r\n"]
)

# Misbehaviours that keep the number of replies (fair in any example).
KEEPING = st.one_of(
    any_reply().map(lambda r: (r,)),
    any_reply().map(lambda r: (Reply(r.data.replace(b"\r\n", b"\n")),)),  # lines ended by a bare LF
    st.sampled_from([(CLOSE,), (ABORT,), (DEFAULT, CLOSE), (DEFAULT, ABORT), (HANG,), (DEFAULT, CutData(40))]),
)
# Misbehaviours that add replies (only in examples that take none away).
ADDING = st.one_of(
    WHOLE_LINES.map(lambda line: (Extra(line), DEFAULT)),
    WHOLE_LINES.map(lambda line: (DEFAULT, Extra(line))),
    st.just((DEFAULT, DUPLICATE)),
    any_reply().map(lambda r: (Reply(r.data.replace(b"\r\n", b"\n", 1) + b"550 5.0.0 and more\r\n"),)),
)
# Misbehaviours that take replies away or spread them over time (only in examples that add none).
TAKING = st.one_of(
    st.just(()),  # no reply at all
    st.lists(st.integers(1, 40), min_size=1, max_size=3).map(lambda at: (Chop(tuple(at)),)),
    st.sampled_from([(Reply(b"250 never ends"),), (Flood(b"250-" + b"x" * 200 + b"\r\n", 256 << 10),)]),
)


# The lies a relay most likely tells to make mail look sent: a positive reply where another one belongs (250 to DATA,
# 251 or 220 to the end of the data, 354 to a RCPT). Each example gets up to two besides its random misbehaviours.
LIE = st.tuples(st.sampled_from([200, 211, 220, 221, 235, 250, 251, 252, 334, 354]), TEXT).map(
    lambda c: (Reply(b"%03d %s\r\n" % c),)
)
LIE_STEPS = st.tuples(st.sampled_from(("MAIL", "RCPT", "DATA", "DATA", "EOD", "EOD", "EOD", "RSET")), st.integers(1, 3))


@dataclass(frozen=True)
class Dialogue:
    pipelining: bool
    smtputf8: bool  # the relay offers SMTPUTF8
    starttls: bool  # the relay offers STARTTLS and the client asks for it (relay.security starttls)
    auth: bool  # the relay offers AUTH PLAIN and the client logs in
    connections: int
    actions: dict[tuple[str, int], Action]  # (verb, its n-th time on the relay) -> what the relay does

    def __call__(self, step: Step) -> Action | None:
        return self.actions.get((step.verb, step.total))


@st.composite
def dialogues(draw: st.DrawFn) -> Dialogue:
    pipelining = draw(st.booleans())
    adding = draw(st.booleans())
    choices = [KEEPING, ADDING if adding else TAKING]
    if not adding and not pipelining:
        choices.append(st.just((LATER,)))
    action = st.one_of(*choices)
    starttls, auth = draw(st.booleans()), draw(st.booleans())
    verbs = VERBS + ("STARTTLS",) * starttls + ("AUTH",) * auth
    keys = st.tuples(st.sampled_from(verbs), st.integers(1, 4))
    actions = draw(st.dictionaries(keys, action, min_size=1, max_size=8))
    actions = {**draw(st.dictionaries(LIE_STEPS, LIE, max_size=2)), **actions}
    return Dialogue(pipelining, draw(st.booleans()), starttls, auth, draw(st.sampled_from([1, 1, 2])), actions)


MAIL = st.lists(st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=5, unique=True), min_size=1, max_size=3)


async def deliver(dialogue: Dialogue, mail: list[list[str]], passes: int, path: Path, tls: TLSFiles) -> None:
    clock = FakeClock()
    queue = Queue(path, clock=clock)
    try:
        queue.add_sender("@example.com")
        for n, recipients in enumerate(mail):
            fields = MessageFields(sender="Ann <ann@example.com>", to=recipients, subject=f"m{n}", body="Hi.\n.\n")
            queue.enqueue(build_message(fields, now=clock.now()))
        fired: list[tuple[str, int]] = []

        def script(step: Step) -> Action | None:
            action = dialogue(step)
            if action is not None:
                fired.append((step.verb, step.total))
            return action

        async with HostileRelay(
            script,
            pipelining=dialogue.pipelining,
            smtputf8=dialogue.smtputf8,
            tls=tls if dialogue.starttls else None,
            auth=dialogue.auth,
        ) as relay:
            target = hostile_target(
                relay,
                timeout=RELAY_TIMEOUT,
                connections=dialogue.connections,
                security="starttls" if dialogue.starttls else "none",
                ca_file=str(tls.ca_file),
                username="ann" if dialogue.auth else "",
                password="secret" if dialogue.auth else None,
            )
            worker = make_worker(queue, clock, target)
            recorded = 0
            try:
                for _ in range(passes):
                    recorded += await run_once(worker, relay)  # never raises
                    assert_sent_means_delivered(queue, relay)
                    clock.advance(4000)  # every retry and the relay's backoff are due
            finally:
                await worker.aclose()
        ids = queue.message_ids()
        details = [queue.get_message(i) for i in ids]
        event(f"messages: {' '.join(sorted(d.summary.status for d in details))}")
        event(f"relay took {min(len(truly_delivered(relay)), 3)}+ deliveries")
        event(f"{min(len(fired), 3)}+ misbehaviours happened")
        event(f"pipelining {dialogue.pipelining}, starttls {dialogue.starttls}, auth {dialogue.auth}")
        assert sum(len(d.attempts) for d in details) == recorded  # every attempt made is recorded, once
        for d in details:
            assert d.summary.attempts == len(d.attempts)
            if d.summary.status == Status.DEFERRED and not d.attempts:
                assert (d.summary.last_reply or "").startswith("delivery temporarily suspended")
    finally:
        queue.close()


@pytest.mark.timeout(300 + FUZZ_EXAMPLES)  # a run by hand with many examples outlasts the usual limit
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
@given(dialogue=dialogues(), mail=MAIL, passes=st.integers(1, 3))
def test_no_relay_makes_a_message_look_sent_that_it_did_not_take(
    fuzz_tls: TLSFiles, dialogue: Dialogue, mail: list[list[str]], passes: int
) -> None:
    with tempfile.TemporaryDirectory(prefix="mailgui-fuzz-") as tmp:
        asyncio.run(deliver(dialogue, mail, passes, Path(tmp) / "queue.sqlite3", fuzz_tls))


@pytest.fixture(scope="module")
def fuzz_tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """One CA and certificate for every example (making them takes longer than most examples)."""
    return make_tls(tmp_path_factory.mktemp("fuzz-tls"))
