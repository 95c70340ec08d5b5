"""The Mailbox view: what the local relay received, newest first, in the message tabs; Clear asks first."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from mailgui.gui.lists.mailbox import COL_FROM, COL_SUBJECT, COL_TO, MailboxView


def received(queue, clock, i: int, mail_from: str = "alice@example.com", html: bool = False) -> int:
    body = (
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hi <img src='http://127.0.0.1:9/t.gif'></p>\r\n"
        if html
        else b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello number %d\r\n" % i
    )
    raw = b"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: Note %d\r\n" % i + body
    clock.advance(30)
    return queue.store_received(mail_from, ["bob@example.org", "carol@example.org"], raw, "127.0.0.1:40000")


def test_mailbox_lists_newest_first_and_shows_a_message_in_tabs(qtbot, queue, clock, qtmodeltester):
    view = MailboxView(queue, clock=clock)
    qtbot.addWidget(view)
    qtmodeltester.check(view.model)
    assert view.model.rowCount() == 0
    assert not view.clear_action.isEnabled()
    for i in range(5):
        received(queue, clock, i)
    received(queue, clock, 5, mail_from="", html=True)  # a bounce report arrives with the null sender
    view.refresh()
    m = view.model
    assert m.rowCount() == 6
    assert [m.data(m.index(r, COL_SUBJECT)) for r in range(6)] == [f"Note {i}" for i in range(5, -1, -1)]
    assert m.data(m.index(1, COL_TO)) == "bob@example.org +1"
    assert m.data(m.index(1, COL_FROM)) == "Alice"
    view.show()
    view.table.selectRow(1)
    assert view.tabs.text_view.toPlainText().startswith("Hello number 4")
    assert "MAIL FROM:<alice@example.com>" in view.envelope.text()
    assert "Subject: Note 4" in view.tabs.headers_view.toPlainText()
    view.table.selectRow(0)
    assert view.tabs.html_view.blocked == ["http://127.0.0.1:9/t.gif"]  # same safe tabs as the details pane
    assert view.count_label.text() == "6 messages"


def test_refresh_keeps_the_shown_message_and_clear_mailbox_asks_first(qtbot, queue, clock):
    for i in range(3):
        received(queue, clock, i)
    view = MailboxView(queue, clock=clock)
    qtbot.addWidget(view)
    view.show()
    view.table.selectRow(2)  # Note 0
    received(queue, clock, 3)
    view.refresh()
    assert view.model.data(view.table.currentIndex().siblingAtColumn(COL_SUBJECT)) == "Note 0"
    view.clear_action.trigger()
    box = view.confirm_box
    assert box is not None and box.isVisible()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert queue.count_mailbox() == 4
    view.clear_action.trigger()
    view.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    assert queue.count_mailbox() == 0
    assert view.model.rowCount() == 0
    assert view.tabs.text_view.toPlainText() == ""


def test_a_refresh_with_nothing_new_leaves_the_list_and_the_message_alone(qtbot, queue, clock):
    for i in range(2):
        received(queue, clock, i)
    view = MailboxView(queue, clock=clock)
    qtbot.addWidget(view)
    view.table.selectRow(1)
    resets = []
    view.model.modelReset.connect(lambda: resets.append(1))
    view.refresh()
    view.refresh()
    assert resets == []
    assert view.tabs.text_view.toPlainText().startswith("Hello number 0")
    queue.delete_received([queue.list_mailbox(limit=1)[0].id])  # the newest goes: the list changes
    view.refresh()
    assert resets == [1] and view.model.rowCount() == 1


def test_mail_arriving_at_the_real_local_relay_shows_in_the_view(qtbot, aloop, queue, clock, db_path):
    """SMTP into the built-in relay (aiosmtpd, 127.0.0.1) → its mailbox in the queue file → the Mailbox view."""
    import asyncio
    import smtplib

    from mailgui.message import MessageFields, build_message
    from mailgui.relay import LocalRelay
    from tests.gui.conftest import until

    view = MailboxView(queue, clock=clock)
    qtbot.addWidget(view)
    raw = build_message(
        MessageFields(
            sender="ann@example.com",
            to="success@simulator.mailgui.test",
            subject="Through the relay",
            body="Plain words.",
            html='<p>Rich words <img src="https://tracker.example.net/p.gif"></p>',
        ),
        now=clock.now(),
    ).raw

    def send(port: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.sendmail("ann@example.com", ["success@simulator.mailgui.test"], raw)

    async def scenario() -> None:
        relay = LocalRelay(db_path, clock=clock)
        port = await relay.start()
        try:
            await asyncio.to_thread(send, port)
        finally:
            await relay.stop()
        view.refresh()
        await until(lambda: view.model.rowCount() == 1, what="the message in the mailbox view")

    aloop.run(scenario())
    view.show()
    view.table.selectRow(0)
    assert view.model.data(view.model.index(0, COL_SUBJECT)) == "Through the relay"
    assert view.tabs.text_view.toPlainText().startswith("Plain words.")
    assert "MAIL FROM:<ann@example.com>" in view.envelope.text()
    assert view.tabs.html_view.blocked == ["https://tracker.example.net/p.gif"]
