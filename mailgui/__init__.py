"""mailgui: a desktop mail composer and outgoing-mail queue manager."""

__version__ = "0.1.0"
