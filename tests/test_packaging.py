"""A normal (non-editable) install carries what the app needs at run time: the GUI's style sheet and icons."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = "mailgui-0.1.0.data/data/share/mailgui/resources/"  # where <prefix>/share/mailgui/resources comes from


def test_the_wheel_installs_every_resource_under_share_mailgui(tmp_path: Path) -> None:
    # Build from a copy, so the build leaves nothing behind in the source tree.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "mailgui", src / "mailgui", ignore=ignore)
    shutil.copytree(ROOT / "resources", src / "resources", ignore=ignore)
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, src],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = out.glob("mailgui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    expected = {
        DATA + p.relative_to(ROOT / "resources").as_posix() for p in (ROOT / "resources").rglob("*") if p.is_file()
    }
    assert DATA + "style.qss" in expected and DATA + "icons/app.svg" in expected
    assert expected - names == set()
    assert "mailgui/py.typed" in names and "mailgui/gui/resources.py" in names
