"""The private Postfix (tests/realservers/postfix.py) for the tests of this package; the private Dovecot is a
plugin of the whole suite (tests/conftest.py)."""

from tests.realservers.postfix import postfix

__all__ = ["postfix"]
