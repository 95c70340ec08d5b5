"""The compose window's help: the built-in relay's reserved test addresses, from the relay's own list."""

from __future__ import annotations

from mailgui.relay.simulator import RESERVED_ADDRESSES


def reserved_addresses_html() -> str:
    """A table of the reserved addresses; each is a link whose target is the address (to insert it in To)."""
    rows = "".join(
        f'<tr><td><a href="{a.address}">{a.address}</a></td><td>{a.reply}</td><td>{a.description}</td></tr>'
        for a in RESERVED_ADDRESSES
    )
    return (
        "<b>Test addresses of the built-in local relay</b> (relay mode <i>local</i>). Click one to add it to "
        "To. Any <code>+tag</code> works too, e.g. <code>tempfail+2@…</code>."
        f"<table cellspacing='6'><tr><th align=left>Address</th><th align=left>Answer</th>"
        f"<th align=left>What you will see</th></tr>{rows}</table>"
    )
