"""The local-mode simulator end to end in the app: a message to late@, complaint@ and ooto@ goes through the real
worker and the built-in relay (250 for each); the reports come back by mail (the relay's wait is a gate the test
opens, not real time); the badge counts the late bounce and the complaint, the Bounces view shows late@ as
"report received", the Suppressions view lists late@ and complaint@, and ooto@'s auto-reply is no bounce."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mailgui.clock import FakeClock
from mailgui.delivery import local_relay_target
from mailgui.gui.lists.bounces import COL_REASON, COL_RECIPIENT, COL_SOURCE
from mailgui.gui.lists.suppressions import COL_ADDRESS
from mailgui.gui.queue_view.cells import COL_STATE
from mailgui.queue import Queue
from mailgui.relay import RESERVED_DOMAIN, LocalRelay
from tests.gui.conftest import AsyncRunner, until
from tests.gui.shell.test_end_to_end import cell, running_app, sent_id
from tests.relay.client import SlowGate

ME = "you@localhost"


def sim(local: str) -> str:
    return f"{local}@{RESERVED_DOMAIN}"


def test_late_complaint_and_ooto_come_back_by_mail_and_show_in_badge_bounces_and_suppressions(
    aloop: AsyncRunner, queue: Queue, db_path: Path, clock: FakeClock
) -> None:
    queue.add_sender(ME)  # not a new queue: no first-run dialog

    async def go() -> None:
        gate = SlowGate()
        relay = LocalRelay(db_path, clock=clock, sleep=gate)
        await relay.start()
        try:
            target = local_relay_target(relay.port, timeout=10.0, connections=2)
            async with running_app(db_path, clock, relay=target) as session:
                window = session.window
                assert window is not None
                w = window.new_message()
                w.sender_field.set_text(ME)
                w.to_field.setText(", ".join(sim(x) for x in ("late", "complaint", "ooto")))
                w.subject_edit.setText("Trying the simulator")
                w.body_edit.setPlainText("Hello")
                queued = sent_id(w)
                w.send()
                message_id = await queued()
                await until(lambda: cell(window, message_id, COL_STATE) == "Sent", what="Sent (250 for each)")
                await until(lambda: len(gate.requested) == 3, what="three reports on their way")
                assert not window.badge.isVisible()

                gate.released.set()  # the relay's wait is over: the reports come back by mail
                await asyncio.gather(*relay.handler.later)

                await until(window.badge.isVisible, what="the badge")
                await until(
                    lambda: window.badge.text() == "1 new bounce · 1 complaint", what="the late bounce and complaint"
                )
                bounces = window.bounces_view.model
                await until(lambda: bounces.rowCount() == 1, what="late@ in the Bounces view")
                row = [str(bounces.index(0, c).data()) for c in range(bounces.columnCount())]
                assert row[COL_RECIPIENT] == sim("late")  # ooto@ is no bounce, complaint@ was delivered
                assert row[COL_SOURCE].startswith("Report received")
                assert row[COL_REASON] == "Unknown user"

                window.show_page("suppressions")
                suppressions = window.suppressions_view.model
                listed = {str(suppressions.index(r, COL_ADDRESS).data()) for r in range(suppressions.rowCount())}
                assert listed == {sim("late"), sim("complaint")}

                window.show_page("bounces")
                assert not window.badge.isVisible()
        finally:
            gate.released.set()
            await relay.stop()
        kinds = sorted(r.kind for r in queue.list_reports())
        assert kinds == ["auto_reply", "bounce", "complaint"]

    aloop.run(go())
