"""The settings pane: authorized senders, the relay, the retry policy."""
