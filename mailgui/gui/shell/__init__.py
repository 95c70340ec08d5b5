"""The shell around every room: the application and its loop, the main window, the status bar, the worker."""
