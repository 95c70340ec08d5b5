"""The built-in local relay (aiosmtpd on 127.0.0.1) with a mailbox and an outcome simulator."""

from mailgui.relay.server import LocalRelay
from mailgui.relay.simulator import RESERVED_ADDRESSES, RESERVED_DOMAIN, Behaviour, ReservedAddress

__all__ = ["RESERVED_ADDRESSES", "RESERVED_DOMAIN", "Behaviour", "LocalRelay", "ReservedAddress"]
