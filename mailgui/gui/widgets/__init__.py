"""Widgets more than one room uses: the message details pane, message tabs, a duration box, a confirm box."""
