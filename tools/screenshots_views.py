"""Screenshots of the queue, bounces, suppressions and mailbox views over a demo queue, for the README.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python tools/screenshots_views.py docs/

Writes docs/queue-view.png, docs/bounces.png, docs/suppressions.png and docs/mailbox.png. The demo queue is built
through the queue's own API (enqueue, claim, record_attempt, store_received, record_report) in a temporary file,
with a fake clock set to now; the reports that come back later are the built-in relay's own (late@, complaint@).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from mailgui.bounces import parse_report
from mailgui.clock import FakeClock
from mailgui.gui.lists.bounces import BouncesView
from mailgui.gui.lists.mailbox import MailboxView
from mailgui.gui.lists.suppressions import SuppressionsView
from mailgui.gui.queue_view.view import QueueView
from mailgui.gui.resources import style_sheet
from mailgui.message import MessageFields, build_message
from mailgui.queue import Attempt, Queue, RecipientResult
from mailgui.relay.late_mail import late_mail
from mailgui.relay.simulator import Behaviour

SIM = "simulator.mailgui.test"
PEOPLE = ["Ann Lee <ann@example.com>", "Ravi Patel <ravi@example.com>", "you@localhost"]


def demo(q: Queue, clock: FakeClock) -> None:
    q.add_sender("you@localhost")
    q.add_sender("@example.com")

    def add(i: int, to: list[str], subject: str, *outcomes: tuple[str, int, str], retry: float | None = None) -> int:
        fields = MessageFields(
            sender=PEOPLE[i % 3],
            to=to,
            subject=subject,
            body=f"Hello,\n\n{subject}: the details are below.\n\nBest regards\n",
            html=f"<p>Hello,</p><p><b>{subject}</b>: the details are below.</p>"
            '<p><img src="https://tracker.example.net/open.gif?id=42"></p>',
        )
        mid = q.enqueue(build_message(fields, now=clock.now()))
        if outcomes:
            claimed = [c for c in q.claim_due("demo", 50, 60) if c.id == mid]
            assert claimed, mid
            results = tuple(
                RecipientResult(a, *outcomes[n % len(outcomes)]) for n, a in enumerate(claimed[0].recipients)
            )
            relay = f"127.0.0.1:2525 ({SIM})"
            q.record_attempt(mid, "demo", Attempt(clock.now(), 0.3, relay, results), retry_at=retry)
        clock.advance(97)
        return mid

    ok = ("delivered", 250, "2.0.0 Ok: queued as 7A3F1")
    subjects = [
        "Quarterly report",
        "Minutes of Tuesday's meeting",
        "Invoice 2026-114",
        "Photos from the trip",
        "Re: lunch on Friday?",
        "Weekly digest",
        "Board pack, final version",
        "Your order has shipped",
    ]
    for n in range(14):
        add(n, [f"success@{SIM}", f"team{n}@example.org"][: 1 + n % 2], subjects[n % len(subjects)], ok)
    add(
        1,
        [f"bounce@{SIM}"],
        "Invitation: planning meeting",
        ("failed", 550, "5.1.1 <bounce@simulator.mailgui.test>: User unknown"),
    )
    add(2, [f"full@{SIM}", "ann@example.org"], "Holiday photos (large)", ("failed", 552, "5.2.2 Mailbox full"), ok)
    add(
        0,
        [f"tempfail@{SIM}"],
        "Invoice 2026-115",
        ("pending", 451, "4.3.0 Temporary failure, try again later"),
        retry=clock.now() + 24 * 60,
    )
    add(
        1,
        [f"greylist@{SIM}"],
        "Re: lunch on Friday?",
        ("pending", 450, "4.2.0 Greylisted, come back in 5 minutes"),
        retry=clock.now() + 36 * 60,
    )
    cancelled = add(2, ["old-list@example.org"], "Draft announcement (do not send)")
    q.cancel(cancelled)
    add(0, ["board@example.org", "chair@example.org", "clerk@example.org"], "Agenda for Thursday")
    q.claim_due("demo-worker", 1, 60)  # one message is being sent right now
    add(1, [f"success@{SIM}"], "Team lunch on Friday")
    add(2, [f"slow@{SIM}"], "Release notes 4.2")

    # What the local relay received: a few messages, a newsletter with remote images, and a bounce report.
    for n, subject in enumerate(["Quarterly report", "Minutes of Tuesday's meeting", "Weekly digest"]):
        raw = build_message(
            MessageFields(sender=PEOPLE[n % 3], to=f"success@{SIM}", subject=subject, body="Hello,\n\nSee you soon.\n"),
            now=clock.now(),
        ).raw
        q.store_received(PEOPLE[n % 3].split("<")[-1].strip(">"), [f"success@{SIM}"], raw, "127.0.0.1:50412")
        clock.advance(45)
    newsletter = build_message(
        MessageFields(
            sender="News <news@example.com>",
            to=f"success@{SIM}",
            subject="This week at Example Corp",
            body="This week: a new office, a new product, and the summer party.",
            html=(
                '<h2 style="color:#1565c0">This week at Example Corp</h2>'
                '<p><img src="https://cdn.example.net/banner.png" width="400" height="80"></p>'
                "<p>A <b>new office</b> in Lyon, a new product, and the summer party on <i>Friday 3 July</i>.</p>"
                '<p><a href="https://example.com/news">Read more</a></p>'
                '<img src="https://tracker.example.net/open.gif?u=8812" width="1" height="1">'
            ),
        ),
        now=clock.now(),
    ).raw
    q.store_received("news@example.com", [f"success@{SIM}"], newsletter, "127.0.0.1:50418")
    clock.advance(45)
    report = (
        b"From: Mail Delivery System <MAILER-DAEMON@localhost>\r\nTo: ravi@example.com\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Your message to bounce@simulator.mailgui.test could not be delivered.\r\n"
        b"The server answered: 550 5.1.1 User unknown\r\n"
    )
    q.store_received("", ["ravi@example.com"], report, "127.0.0.1:50420")

    # Reports that came back later by mail: a late bounce, a complaint, one about no message of this queue.
    late = add(0, [f"late@{SIM}", "ops@example.org"], "Monthly newsletter", ok)
    angry = add(1, [f"complaint@{SIM}"], "Special offer, this week only", ok)
    for mid, behaviour, to in ((late, Behaviour.LATE, f"late@{SIM}"), (angry, Behaviour.COMPLAINT, f"complaint@{SIM}")):
        back = late_mail(behaviour, q.get_message(mid).raw, "ann@example.com", to, clock.now())
        assert back is not None
        q.record_report(back, parse_report(back), "local mailbox")
        clock.advance(120)
    stranger = build_message(
        MessageFields(sender="Old system <noreply@example.com>", to="gone@example.net", subject="Reminder", body="."),
        now=clock.now(),
    ).raw
    unmatched = late_mail(Behaviour.LATE, stranger, "noreply@example.com", "gone@example.net", clock.now())
    assert unmatched is not None
    q.record_report(unmatched, parse_report(unmatched), "imap imap.example.com")
    q.add_suppression("former.colleague@example.org", "left the company; asked by HR")


def save(widget: QWidget, path: Path) -> None:
    for _ in range(10):
        QApplication.processEvents()
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path}")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    app.setStyleSheet(style_sheet())
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock(time.time() - 3600)
        queue = Queue(Path(tmp) / "queue.sqlite3", clock=clock)
        demo(queue, clock)
        clock.set(clock.now() + 60)

        view = QueueView(queue, clock=clock)
        view.resize(1380, 820)
        view.show()
        bounced = next(s.id for s in queue.list_messages("bounced"))
        view.select_ids([bounced], current=bounced)
        save(view, out / "queue-view.png")

        bounces = BouncesView(queue, clock=clock)
        bounces.resize(1380, 720)
        bounces.show()
        bounces.table.selectRow(0)  # the late bounce: its report is a click away
        bounces.details.tabs.setCurrentIndex(bounces.details.tabs.indexOf(bounces.details.late_view))
        save(bounces, out / "bounces.png")

        suppressions = SuppressionsView(queue, clock=clock)
        suppressions.resize(1100, 520)
        suppressions.show()
        suppressions.table.selectRow(0)
        save(suppressions, out / "suppressions.png")

        mailbox = MailboxView(queue, clock=clock)
        mailbox.resize(1380, 720)
        mailbox.show()
        mailbox.table.selectRow(1)
        mailbox.tabs.setCurrentIndex(mailbox.tabs.html_index)
        save(mailbox, out / "mailbox.png")
        for w in (view, bounces, suppressions, mailbox):
            w.close()
        queue.close()


if __name__ == "__main__":
    main()
