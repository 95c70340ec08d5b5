"""Large hostile reports are read in time proportional to their size: no pattern of the parser backtracks
quadratically (a report of 32 KiB of blank lines took two minutes; 256 KiB of one character would take hours).

Each input is parsed in a subprocess with a generous limit: linear parsing of all of them takes seconds, quadratic
parsing of any one never ends within it. (A hang guard, not a timing target: see bench/ for speed.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SIZE = 256 * 1024
PIECES = [
    b"x", b"a.", b"@", b"a@", b"a@b.", b"5.5.", b" ", b"-", b"=", b">>> ", b"1", b"550-", b"<", b"'", b"\t", b"\n",
    b"\r\n ", b"user unknown ", b":", b"(", b";", b"...", b"@.", b"X-A: b\r\n", b"Status: 5.1.1\r\n", b"RCPT TO:<",
    b"mailto:", b"--", b"<<< 550 ", b"\r\n\r\n",
]  # fmt: skip

SCRIPT = textwrap.dedent(
    """
    import sys
    from mailgui.bounces import parse_report
    size = int(sys.argv[1])
    pieces = [bytes.fromhex(h) for h in sys.argv[2:]]
    head = b"From: MAILER-DAEMON@mx.example\\r\\nSubject: Undelivered Mail\\r\\nTo: a@example.com\\r\\n\\r\\n"
    dsn = (b"From: MAILER-DAEMON@mx.example\\r\\nSubject: failure\\r\\nMIME-Version: 1.0\\r\\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\\r\\n\\r\\n--B\\r\\n"
           b"Content-Type: message/delivery-status\\r\\n\\r\\nReporting-MTA: dns; x\\r\\n\\r\\n"
           b"Final-Recipient: rfc822; bob@example.org\\r\\nAction: failed\\r\\nStatus: 5.1.1\\r\\n"
           b"Diagnostic-Code: smtp; %s\\r\\n\\r\\n--B--\\r\\n")
    for piece in pieces:
        body = piece * (size // len(piece))
        parse_report(head + b"I could not deliver to the following:\\r\\n" + body)
        parse_report(dsn % body)
    print("read", len(pieces) * 2)
    """
)


def test_large_hostile_reports_are_read_without_quadratic_backtracking() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(SIZE), *(p.hex() for p in PIECES)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["read", str(len(PIECES) * 2)]
