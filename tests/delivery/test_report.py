"""RFC 3464 reports: every field read back with the stdlib parser, and laid out like real MTAs' reports."""

from __future__ import annotations

import email
import email.message
import email.policy
import email.utils
import json
from pathlib import Path

import pytest

from mailgui.delivery import OriginalMessage, ReportRecipient, build_report
from mailgui.message import MessageFields, build_message
from tests.delivery.helpers import parse_dsn

CORPUS = Path("/work/shared/bounces")


def when(date: str) -> float:
    """An RFC 5322 date read back (it must parse, with its zone)."""
    return email.utils.parsedate_to_datetime(date).timestamp()


NOW = 1_800_000_000.0


def original(**kw: object) -> OriginalMessage:
    msg = build_message(
        MessageFields(
            sender="Ann <ann@example.com>",
            to=["bob@example.org", "carol@example.org"],
            subject="Quarterly figures",
            body="See attached.\n",
        ),
        now=NOW - 3600,
        message_id="<q1@example.com>",
    )
    fields: dict[str, object] = {
        "queue_id": 42,
        "message_id": msg.message_id,
        "sender": "ann@example.com",
        "subject": msg.subject,
        "arrival": NOW - 3600,
        "raw": msg.raw,
        "smtputf8": False,
        "expires_at": NOW + 4 * 86400,
    }
    fields.update(kw)
    return OriginalMessage(**fields)  # type: ignore[arg-type]


BOB = ReportRecipient(
    "bob@example.org",
    "5.1.1",
    550,
    "5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
    stage="RCPT TO",
    last_attempt=NOW - 10,
    remote_mta="smtp.example.net",
)
CAROL = ReportRecipient(
    "carol@example.org",
    "4.4.1",
    None,
    "cannot connect to smtp.example.net:587: Connection refused",
    expired=True,
    last_attempt=NOW - 20,
    remote_mta="smtp.example.net",
)


def test_failed_report_has_every_field_rfc_3464_asks_for() -> None:
    report = build_report("failed", original(), [BOB, CAROL], reporting_mta="mail.example.com", now=NOW)
    assert report.recipient == "ann@example.com" and not report.smtputf8
    assert b"\n" not in report.raw.replace(b"\r\n", b"")  # CRLF line ends only
    assert max(len(line) for line in report.raw.split(b"\r\n")) <= 998
    parsed = parse_dsn(report.raw)
    head = parsed.message
    assert head["From"] == "Mail Delivery System <MAILER-DAEMON@mail.example.com>"
    assert head["To"] == "<ann@example.com>"
    assert head["Subject"] == "Undelivered Mail Returned to Sender"
    assert head["Auto-Submitted"] == "auto-replied"
    assert head["In-Reply-To"] == "<q1@example.com>"
    assert head["Message-ID"] == report.message_id and report.message_id.endswith("@mail.example.com>")
    assert when(head["Date"]) == NOW
    assert parsed.part_types == ["text/plain", "message/delivery-status", "text/rfc822-headers"]

    assert when(parsed.per_message.pop("arrival-date")) == NOW - 3600
    assert parsed.per_message == {
        "reporting-mta": "dns; mail.example.com",
        "x-mailgui-queue-id": "42",
        "x-mailgui-sender": "rfc822; ann@example.com",
    }
    bob, carol = parsed.per_recipient
    assert when(bob.pop("last-attempt-date")) == NOW - 10
    assert bob == {
        "final-recipient": "rfc822; bob@example.org",
        "original-recipient": "rfc822; bob@example.org",
        "action": "failed",
        "status": "5.1.1",
        "remote-mta": "dns; smtp.example.net",
        "diagnostic-code": "smtp; 550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in "
        "virtual mailbox table",
    }
    assert carol["action"] == "failed" and carol["status"] == "4.4.1"
    assert carol["diagnostic-code"] == "X-mailgui; cannot connect to smtp.example.net:587: Connection refused"
    assert "remote-mta" not in carol  # no server answered: none reported (as Postfix does)

    human = " ".join(parsed.human.split())
    assert '"Quarterly figures" could not be delivered' in human
    assert "<bob@example.org>: the receiving mail server refused this address for good." in human
    assert "Host smtp.example.net said: 550 5.1.1 <bob@example.org>" in human
    assert "(in reply to RCPT TO command)" in human
    assert "<carol@example.org>: mailgui kept trying for 60 minutes and then gave up." in human
    assert "Subject: Quarterly figures" in parsed.headers
    assert "Message-ID: <q1@example.com>" in parsed.headers
    assert "See attached" not in parsed.headers  # headers only, never the body


def test_delayed_report_says_it_is_a_warning_and_until_when() -> None:
    pending = ReportRecipient("bob@example.org", "4.2.0", 450, "4.2.0 Greylisted", stage="RCPT TO", last_attempt=NOW)
    report = build_report("delayed", original(), [pending], reporting_mta="mail.example.com", now=NOW)
    parsed = parse_dsn(report.raw)
    assert parsed.message["Subject"] == "Delayed Mail (still being retried)"
    [rcpt] = parsed.per_recipient
    assert rcpt["action"] == "delayed"
    assert rcpt["status"] == "4.2.0"
    assert when(rcpt["will-retry-until"]) == NOW + 4 * 86400
    assert "YOU DO NOT NEED TO RESEND YOUR MESSAGE" in parsed.human


def test_non_ascii_words_are_encoded_and_utf8_addresses_use_the_global_types() -> None:
    report = build_report(
        "failed",
        original(subject="Grüße"),
        [ReportRecipient("bob@example.org", "5.1.1", 550, "5.1.1 unbekannt: Müller")],
        reporting_mta="mx.test",
        now=NOW,
    )
    assert report.raw.isascii()  # 7-bit: any relay can carry it
    parsed = parse_dsn(report.raw)
    assert '"Grüße"' in parsed.human
    assert parsed.per_recipient[0]["diagnostic-code"] == "smtp; 550 5.1.1 unbekannt: M?ller"

    intl = build_report(
        "failed",
        original(sender="jörg@exämple.com", smtputf8=True),
        [ReportRecipient("bob@example.org", "5.1.1", 550, "5.1.1 unknown")],
        reporting_mta="mx.test",
        now=NOW,
    )
    assert intl.smtputf8
    parsed = parse_dsn(intl.raw)
    assert parsed.part_types == ["text/plain", "message/global-delivery-status", "message/global-headers"]
    assert "X-Mailgui-Sender: utf-8; jörg@exämple.com\r\n".encode() in intl.raw  # RFC 6533: UTF-8 as is


def test_a_reply_whose_bytes_are_not_utf8_is_reported_with_those_bytes_escaped() -> None:
    # A legacy server's Latin-1 550, as aiosmtplib hands it over (surrogateescape): lone surrogates.
    reply = b"5.1.1 Benutzer unbekannt: M\xfcller".decode("utf-8", "surrogateescape")
    refused = ReportRecipient("bob@example.org", "5.1.1", 550, reply, stage="RCPT TO", remote_mta="mx.example.de")
    for smtputf8 in (False, True):
        report = build_report("failed", original(smtputf8=smtputf8), [refused], reporting_mta="mx.test", now=NOW)
        report.raw.decode("utf-8")  # valid UTF-8 throughout (7-bit unless the report is SMTPUTF8)
        # (the stdlib reads no field blocks out of message/global-delivery-status: the SMTPUTF8 one is read raw)
        assert b"Diagnostic-Code: smtp; 550 5.1.1 Benutzer unbekannt: M\\xfcller\r\n" in report.raw
        parsed = parse_dsn(report.raw)
        assert "said: 550 5.1.1 Benutzer unbekannt: M\\xfcller" in " ".join(parsed.human.split())


def test_a_report_needs_a_recipient_and_a_known_action() -> None:
    with pytest.raises(ValueError, match="recipients"):
        build_report("failed", original(), [], reporting_mta="m", now=NOW)
    with pytest.raises(ValueError, match="action"):
        build_report("relayed", original(), [BOB], reporting_mta="m", now=NOW)


# -- like the real ones --------------------------------------------------------------------------------
def _corpus_dsns() -> list[dict]:  # type: ignore[type-arg]
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    return [m for m in manifest if m["kind"] == "dsn" and m["mta"] in ("postfix", "rfc3464", "sendmail", "exim")]


def failed_recipients(raw: bytes) -> list[tuple[str, str | None]]:
    """(address, status) of each failed recipient, read from the message/delivery-status part."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = []
    for part in msg.walk():
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        for block in blocks[1:]:
            action = (block.get("Action") or "").strip().lower()
            final = block.get("Final-Recipient") or block.get("Original-Recipient") or ""
            address = final.partition(";")[2].strip().strip("<>").lower()
            status = (block.get("Status") or "").strip() or None
            if action == "failed" and address:
                out.append((address, status.split()[0] if status else None))
    return out


def test_the_reader_agrees_with_the_corpus_labels_and_reads_our_report_the_same_way() -> None:
    """One reader for real MTAs' reports and ours: right on the labelled corpus, then right on ours."""
    samples = _corpus_dsns()
    assert len(samples) >= 30
    agreed = 0
    for sample in samples:
        raw = (CORPUS / sample["file"]).read_bytes()
        got = failed_recipients(raw)
        want = [(r["address"].lower(), r["status"]) for r in sample["recipients"]]
        if got and {a for a, _ in got} == {a for a, _ in want}:
            agreed += 1
    assert agreed >= 0.8 * len(samples), (agreed, len(samples))

    postfix = (CORPUS / "samples/postfix/lhost-postfix-43.eml").read_bytes()
    theirs = email.message_from_bytes(postfix, policy=email.policy.compat32)
    ours = email.message_from_bytes(
        build_report("failed", original(), [BOB, CAROL], reporting_mta="mx.test", now=NOW).raw,
        policy=email.policy.compat32,
    )

    def shape(m: email.message.Message) -> tuple[str, object, list[str]]:
        return m.get_content_type(), m.get_param("report-type"), [p.get_content_type() for p in m.get_payload()]

    assert shape(ours) == shape(theirs)

    # Per recipient, every field Postfix writes for a refused address, with the same types (rfc822;, dns;, smtp;).
    def blocks(m: email.message.Message) -> list[dict[str, str]]:
        status = next(p for p in m.walk() if p.get_content_type() == "message/delivery-status")
        return [{k.lower(): " ".join(v.split()) for k, v in b.items()} for b in status.get_payload()[1:]]

    smtp_refusal = email.message_from_bytes(
        (CORPUS / "samples/postfix/lhost-postfix-02.eml").read_bytes(), policy=email.policy.compat32
    )  # 550 5.1.1 to RCPT TO, from a remote SMTP server
    their_bob, our_bob = blocks(smtp_refusal)[1], blocks(ours)[0]
    assert their_bob["remote-mta"].startswith("dns;")
    assert set(their_bob) <= set(our_bob), set(their_bob) - set(our_bob)
    for name in their_bob:
        assert our_bob[name].partition(";")[0] == their_bob[name].partition(";")[0] or ";" not in their_bob[name]
    assert failed_recipients(
        build_report("failed", original(), [BOB, CAROL], reporting_mta="mx.test", now=NOW).raw
    ) == [
        ("bob@example.org", "5.1.1"),
        ("carol@example.org", "4.4.1"),
    ]


@pytest.mark.parametrize("word", [900, 901, 3000])
def test_no_line_of_a_report_passes_998_characters_whatever_the_server_said(word: int) -> None:
    """A legal reply may be one long word (found by the audit: a 3,000-character one made a 2,046-character
    Diagnostic-Code line)."""
    refused = ReportRecipient("bob@example.org", "5.1.1", 550, "5.1.1 " + "x" * word, stage="RCPT TO")
    report = build_report("failed", original(), [refused], reporting_mta="mx.test", now=NOW)
    assert max(len(line) for line in report.raw.split(b"\r\n")) <= 998
    assert b"x" * 900 in report.raw  # cut in pieces, not dropped
