"""The built-in local relay (aiosmtpd on 127.0.0.1) with a mailbox and an outcome simulator."""
