"""The queue view: the table of every message (a paged model over the queue), search, and actions."""
