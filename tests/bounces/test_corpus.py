"""Every message of the labelled corpus (../shared/bounces): what must hold for each one.

The share of failed recipients found with the right address and class is a figure, printed by
`bench/bounces.py` and recorded in bench/README.md; these tests hold what has no tolerance.
"""

from __future__ import annotations

import pytest

from mailgui.bounces import Kind, parse_report
from tests.bounces.checks import assert_valid
from tests.bounces.corpus import entry_params, read


@pytest.mark.parametrize("entry", entry_params())
def test_every_message_gives_a_valid_report(entry: dict[str, object]) -> None:
    assert_valid(parse_report(read(entry)))


@pytest.mark.parametrize("entry", entry_params("auto_reply") + entry_params("unrelated"))
def test_auto_replies_and_ordinary_mail_are_never_bounces(entry: dict[str, object]) -> None:
    assert parse_report(read(entry)).kind not in (Kind.BOUNCE, Kind.DELAY)


@pytest.mark.parametrize("entry", entry_params("auto_reply"))
def test_auto_replies_are_auto_replies(entry: dict[str, object]) -> None:
    assert parse_report(read(entry)).kind is Kind.AUTO_REPLY


@pytest.mark.parametrize("entry", entry_params(mta="arf"))
def test_feedback_reports_are_complaints_naming_the_recipient(entry: dict[str, object]) -> None:
    report = parse_report(read(entry))
    assert report.kind is Kind.COMPLAINT
    assert report.recipients and all("@" in r.address for r in report.recipients)
