"""The parser never raises and always gives a valid report, whatever it is sent: any bytes, and real reports
mangled (cut short, bytes changed, lines dropped or repeated, line endings swapped, not UTF-8)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgui.bounces import parse_report
from tests.bounces.checks import assert_valid
from tests.bounces.corpus import entries, read

_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.binary(max_size=4000))
def test_any_bytes_give_a_valid_report(data: bytes) -> None:
    assert_valid(parse_report(data))


_HEADERS = st.sampled_from(
    [
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n",
        b"Content-Type: message/delivery-status\n",
        b"Content-Type: multipart/report; boundary=\n",
        b"Content-Type: text/plain; charset=x-unknown-charset\n",
        b"Content-Transfer-Encoding: base64\n",
        b"Content-Transfer-Encoding: quoted-printable\n",
        b"From: MAILER-DAEMON <>\n",
        b"Subject: =?utf-8?B?broken?=\n",
        b"Subject: =?x-unknown?Q?a?=\n",
        b"X-Failed-Recipients: \xff@\xfe, <>\n",
        b"Auto-Submitted: auto-replied\n",
    ]
)
_LINES = st.sampled_from(
    [
        b"--b\n",
        b"--b--\n",
        b"Content-Type: message/delivery-status\n",
        b"Content-Type: message/rfc822\n",
        b"Content-Type: message/feedback-report\n",
        b"Final-Recipient: rfc822; bob@example.com\n",
        b"Final-Recipient: rfc822;\n",
        b"Final-Recipient: \xff\xfe@\xc3\n",
        b"Original-Rcpt-To: <>\n",
        b"Action: failed\n",
        b"Action: delayed\n",
        b"Status: 5.1.1\n",
        b"Status: 9.9.9999\n",
        b"Diagnostic-Code: smtp; 550 5.7.1 spam \xe9\n",
        b'{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{"emailAddress":1}]}}\n',
        b'{"notificationType":"Complaint","complaint":[]}\n',
        b"<bob@example.com>:\n",
        b">>> DATA\n",
        b"<<< 550 bob@example.com user unknown\n",
        b"\n",
        b" folded continuation\n",
    ]
)


@_FUZZ
@given(st.lists(_HEADERS, max_size=6), st.lists(_LINES, max_size=40))
def test_report_shaped_nonsense_gives_a_valid_report(headers: list[bytes], lines: list[bytes]) -> None:
    assert_valid(parse_report(b"".join(headers) + b"\n" + b"".join(lines)))


_SAMPLES = [e for e in entries() if e["kind"] != "unrelated"][::7]  # a spread of formats, fast enough to fuzz


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    if not _SAMPLES:
        return draw(st.binary(max_size=2000))
    data = bytearray(read(draw(st.sampled_from(_SAMPLES))))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["cut", "flip", "drop", "repeat", "crlf", "insert"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if action == "cut":
            del data[at:]
        elif action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "drop":
            end = data.find(b"\n", at)
            del data[at : end + 1 if end >= 0 else len(data)]
        elif action == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 400))]
        elif action == "crlf":
            data = bytearray(
                bytes(data).replace(b"\n", b"\r\n") if b"\r\n" not in data else data.replace(b"\r\n", b"\n")
            )
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
    return bytes(data)


@_FUZZ
@given(mangled())
def test_mangled_real_reports_give_a_valid_report(data: bytes) -> None:
    assert_valid(parse_report(data))
