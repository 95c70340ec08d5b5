"""VERP return paths (mailgui/bounces/verp.py): an address names its message and only this queue can make one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailgui.bounces.verp import verp_address, verp_id

KEY = bytes(range(32))


@given(st.integers(1, 10**15), st.sampled_from(["bounces@example.com", "Bounce.Box@Mail.Example.org"]))
def test_an_address_names_its_message_whatever_the_case_it_comes_back_in(message_id: int, return_path: str) -> None:
    address = verp_address(return_path, message_id, KEY)
    assert address.lower().startswith(return_path.lower().partition("@")[0] + f"+{message_id}-")
    assert verp_id(address, return_path, KEY) == message_id
    assert verp_id(f"<{address.upper()}>", return_path, KEY) == message_id


def test_a_token_made_with_another_key_or_for_another_message_is_forged() -> None:
    address = verp_address("bounces@example.com", 12, KEY)
    with pytest.raises(ValueError, match="token this queue did not issue"):
        verp_id(address, "bounces@example.com", bytes(32))
    token = address.split("-", 1)[1].split("@")[0]
    with pytest.raises(ValueError, match="names message 13"):
        verp_id(f"bounces+13-{token}@example.com", "bounces@example.com", KEY)


@pytest.mark.parametrize(
    "address",
    ["bob@example.org", "bounces@example.com", "other+12-0123456789ab@example.com", "bounces+12-0123456789ab@else.com"],
)
def test_an_address_that_is_not_one_of_ours_names_nothing(address: str) -> None:
    assert verp_id(address, "bounces@example.com", KEY) is None
