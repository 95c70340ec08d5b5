"""The suite's own strictness (tests/logfail.py): an undeclared WARNING or worse fails the test that logged it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CASES = """
import logging
import threading

import pytest

from tests.logfail import Allowed

log = logging.getLogger("mailgui.somewhere")


def test_undeclared_warning():
    log.warning("disk says no")


def test_undeclared_error_from_another_thread():
    t = threading.Thread(target=lambda: log.error("thread says no"))
    t.start()
    t.join()


def test_info_needs_no_declaration():
    log.info("all well")


@pytest.mark.allow_log("mailgui")
def test_warning_of_a_child_logger_declared():
    log.warning("expected")


@pytest.mark.allow_log("mailgui.somewhere")
def test_a_declared_warning_does_not_cover_an_error():
    log.error("worse than declared")


@pytest.mark.allow_log("mailgui.somewhere", match="^expected")
def test_match_is_honoured():
    log.warning("expected, this one")
    log.warning("not this one")


@pytest.mark.allow_log(Allowed("mailgui.somewhere", 40, "^one"), Allowed("mailgui.elsewhere", 30, "^two"))
def test_several_entries_in_one_marker():
    log.error("one")
    logging.getLogger("mailgui.elsewhere").warning("two")


@pytest.fixture
def noisy_fixture():
    yield
    log.warning("said while tearing down")


def test_a_fixture_teardown_counts(noisy_fixture):
    pass
"""


def test_only_undeclared_warnings_and_errors_fail_their_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))  # where ``tests`` is a package
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # pytest and tests/logfail.py, nothing else
    pytester.makeconftest('pytest_plugins = ["tests.logfail"]')
    pytester.makepyfile(test_cases=CASES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rE")
    result.assert_outcomes(passed=8, errors=5)
    errors = {line.split("::")[1].split(" ")[0] for line in result.outlines if line.startswith("ERROR test_cases.py::")}
    assert errors == {
        "test_undeclared_warning",
        "test_undeclared_error_from_another_thread",
        "test_a_declared_warning_does_not_cover_an_error",
        "test_match_is_honoured",
        "test_a_fixture_teardown_counts",
    }
    result.stdout.fnmatch_lines(["*test_undeclared_warning logged 1 record(s) it did not declare:*"])
    result.stdout.fnmatch_lines(["*WARNING mailgui.somewhere: not this one*"])
