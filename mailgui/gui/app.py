"""The application: one place creates the qasync loop and owns the app's life."""

from __future__ import annotations

from pathlib import Path


def run_gui(db: Path) -> int:
    import sys

    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv)
    label = QLabel(f"mailgui — queue: {db}")
    label.resize(480, 120)
    label.show()
    return int(app.exec())
