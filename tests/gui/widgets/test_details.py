"""The details pane: recipients, attempts, the message in tabs, the bounce report, and no remote content."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mailgui.bounces import parse_report
from mailgui.gui.widgets.details import DetailsPane, MessageTabs
from mailgui.message import MessageFields, build_message
from tests.gui.queue_data import attempt, enqueue, fill_varied
from tests.reports import dsn

PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.end_headers()
        self.wfile.write(PIXEL)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 that records every request: it must get none."""
    hits: list[str] = []
    handler = type("Recorder", (_Recorder,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def html_mail(base: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Newsletter <news@example.com>"
    msg["To"] = "you@example.org"
    msg["Subject"] = "This week"
    msg.set_content("Plain version of this week's news.")
    msg.add_alternative(
        f"""<html><head><link rel="stylesheet" type="text/css" href="{base}/style.css"></head><body background="{base}/bg.png">
        <h1>This week</h1><p>News with a <a href="{base}/click">link</a>.</p>
        <img src="{base}/pixel.gif?user=you" width="1" height="1">
        <img src="{base.replace("http:", "https:")}/banner.png">
        <img src="cid:logo@example.com" alt="logo">
        <img src="/etc/hostname"></body></html>""",
        subtype="html",
    )
    msg.get_payload()[1].add_related(PIXEL, "image", "gif", cid="<logo@example.com>")
    return msg.as_bytes()


def test_html_is_rendered_without_loading_anything_remote(qtbot, web):
    base, hits = web
    tabs = MessageTabs()
    qtbot.addWidget(tabs)
    tabs.resize(700, 500)
    tabs.show()
    tabs.set_message(html_mail(base))
    tabs.setCurrentIndex(tabs.html_index)
    qtbot.waitExposed(tabs)
    tabs.grab()  # paint it, as a user would see it
    assert "This week" in tabs.html_view.toPlainText()
    blocked = tabs.html_view.blocked
    assert f"{base}/pixel.gif?user=you" in blocked
    assert f"{base}/style.css" in blocked
    assert f"{base}/bg.png" in blocked
    assert any(u.startswith("https://") for u in blocked)
    assert any("hostname" in u for u in blocked)  # local files are refused too
    assert not any(u.startswith("cid:") for u in blocked)  # the message's own inline image is shown
    assert tabs.blocked_notice.isVisible() and "Remote content blocked" in tabs.blocked_notice.text()
    # The real test: the web server never heard from us, and clicking a link goes nowhere.
    tabs.html_view.anchorClicked.emit(tabs.html_view.document().baseUrl())
    assert hits == []


def test_message_tabs_show_text_html_headers_and_raw(qtbot):
    fields = MessageFields(
        sender="Alice <alice@example.com>",
        to="bob@example.org",
        subject="Tabs",
        body="The plain text.",
        html="<p>The <b>HTML</b> text.</p>",
        attachments=[("notes.txt", b"hello")],
    )
    raw = build_message(fields, now=1.8e9).raw
    tabs = MessageTabs()
    qtbot.addWidget(tabs)
    tabs.set_message(raw)
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Text", "HTML", "Headers", "Raw source"]
    assert tabs.text_view.toPlainText().startswith("The plain text.")
    assert "notes.txt (text/plain, 5 bytes)" in tabs.text_view.toPlainText()
    assert tabs.html_view.toPlainText().strip() == "The HTML text."
    assert "Subject: Tabs" in tabs.headers_view.toPlainText()
    assert "From: Alice <alice@example.com>" in tabs.headers_view.toPlainText()
    assert tabs.raw_view.toPlainText() == raw.decode().replace("\r\n", "\n")
    tabs.set_message(
        build_message(MessageFields(sender="a@example.com", to="b@example.org", subject="s", body="x"), now=0).raw
    )
    assert not tabs.isTabEnabled(tabs.html_index)


def test_a_malformed_message_is_shown_with_a_note_not_an_exception(qtbot):
    tabs = MessageTabs()
    qtbot.addWidget(tabs)
    tabs.set_message(
        b"Subject: =?unknown-8?Q?broken?=\r\nContent-Type: text/plain; charset=bogus-charset\r\n\r\n\xff\xfe body"
    )
    assert "body" in tabs.text_view.toPlainText()
    assert "Subject" in tabs.headers_view.toPlainText()


def test_details_show_recipients_attempts_and_the_bounce_report(qtbot, queue, clock):
    v = fill_varied(queue, clock)
    pane = DetailsPane(queue, clock)
    qtbot.addWidget(pane)
    pane.show_message(v.bounced)
    assert pane.title.text() == "Welcome aboard"
    assert "Bounced" in pane.state_label.text()
    r = pane.recipients.topLevelItem(0)
    assert [r.text(i) for i in range(4)] == [
        "nobody@example.org",
        "to",
        "Failed",
        "550 5.1.1 <nobody@example.org>: User unknown",
    ]
    assert not r.icon(2).isNull()  # icon + colour + word
    attempt = pane.attempts.topLevelItem(0)
    assert attempt.text(2) == "0 of 1 delivered" and attempt.text(3) == "127.0.0.1:2525"
    assert attempt.child(0).text(2) == "Failed: 550 5.1.1 <nobody@example.org>: User unknown"
    assert pane.tabs.tabText(pane.tabs.count() - 1) == "Bounce report"
    assert "could not be delivered: 550 5.1.1 User unknown" in pane.report_view.toPlainText()
    assert "Report #" in pane.report_view.toPlainText()

    pane.show_message(v.deferred)
    assert "next attempt in 1 min" in pane.facts.text()
    assert pane.recipients.topLevelItem(0).text(2) == "Pending"
    assert pane.attempts.topLevelItem(0).child(0).text(2) == "Will retry: 451 4.3.0 Try again later"
    assert "Bounce report" not in [pane.tabs.tabText(i) for i in range(pane.tabs.count())]

    queue.delete([v.deferred])
    pane.refresh()
    assert pane.placeholder.isVisibleTo(pane)
    assert "no longer in the queue" in pane.placeholder.text()


def test_a_suppressed_recipient_shows_as_suppressed_with_its_reason(qtbot, queue, clock):
    queue.add_sender("@example.com")
    queue.add_suppression("gone@example.org", "unknown_user: 550 5.1.1 no such user")
    mid = enqueue(queue, clock, 1, to=["gone@example.org", "here@example.org"], subject="Hello")
    note = queue.suppression_of("gone@example.org").note()
    attempt(
        queue,
        clock,
        mid,
        [("gone@example.org", "suppressed", None, note), ("here@example.org", "delivered", 250, "2.0.0 Ok")],
    )
    pane = DetailsPane(queue, clock)
    qtbot.addWidget(pane)
    pane.show_message(mid)
    gone = pane.recipients.topLevelItem(0)
    assert gone.text(0) == "gone@example.org"
    assert gone.text(2) == "Suppressed"
    assert "is suppressed (unknown_user" in gone.text(3)
    assert not gone.icon(2).isNull() and "suppression list" in gone.toolTip(2)
    assert pane.recipients.topLevelItem(1).text(2) == "Delivered"


def test_a_recipients_late_bounce_shows_its_report_in_the_message_tabs(qtbot, queue, clock):
    queue.add_sender("@example.com")
    mid = enqueue(queue, clock, 1, to=["late@example.org", "fine@example.org"], subject="Hello")
    attempt(
        queue,
        clock,
        mid,
        [("late@example.org", "delivered", 250, "2.0.0 Ok"), ("fine@example.org", "delivered", 250, "2.0.0 Ok")],
    )
    pane = DetailsPane(queue, clock)
    qtbot.addWidget(pane)
    pane.show_message(mid)
    titles = [pane.tabs.tabText(i) for i in range(pane.tabs.count())]
    assert "Late bounce" not in titles

    clock.advance(600)
    raw = dsn(queue.get_message(mid).summary.message_id, [("late@example.org", "5.1.1", "550 5.1.1 User unknown")])
    report = queue.record_report(raw, parse_report(raw), "test")
    pane.refresh()
    late = pane.recipients.topLevelItem(0)
    assert late.text(2) == "Failed"
    assert late.text(3).startswith(f"Reported later (report #{report.id})")
    titles = [pane.tabs.tabText(i) for i in range(pane.tabs.count())]
    assert titles.count("Late bounce") == 1
    assert pane.late_view.report_id == report.id
    assert "late@example.org: Unknown user 5.1.1" in pane.late_view.summary.text()
    assert "User unknown" in pane.late_view.report_text.toPlainText()

    pane.show_message(None)
    assert "Late bounce" not in [pane.tabs.tabText(i) for i in range(pane.tabs.count())]
