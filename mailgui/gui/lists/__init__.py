"""The short lists: bounces, the built-in relay's mailbox, drafts."""
