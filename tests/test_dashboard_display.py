"""No display, or no Qt system libraries: one line at once, never a wait or a Qt abort."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboards import qtcheck


def test_no_display_is_one_line_at_once(tmp_path):
    from imu.cli import main

    session = tmp_path / "desk.imu"
    assert main(["simulate", "desk", "-o", str(session), "--duration", "120"]) == 0
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    begun = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "imu.cli", "replay", str(session), "--dashboard"],
                          capture_output=True, text=True, env=env, timeout=120)
    took = time.monotonic() - begun
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "--screenshot" in lines[0]
    assert took < 30  # no replay of the session and no Qt wait before saying so


def test_missing_x11_libraries_name_the_debian_packages(monkeypatch):
    monkeypatch.setattr(qtcheck, "xcb_plugin", lambda: Path("/qt/libqxcb.so"))
    monkeypatch.setattr(qtcheck, "missing_libraries",
                        lambda so: ["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    with pytest.raises(qtcheck.DisplayUnavailable) as err:
        qtcheck.check_display({"DISPLAY": ":0"})
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in str(err.value)
    qtcheck.check_display({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"})  # explicit: fine
    qtcheck.check_display({"WAYLAND_DISPLAY": "wayland-0"})


def test_the_real_xcb_plugin_is_checked_with_ldd():
    plugin = qtcheck.xcb_plugin()
    if plugin is None:
        pytest.skip("this PySide6 has no xcb plugin")
    missing = qtcheck.missing_libraries(plugin)
    assert all(name.startswith("lib") and ".so" in name for name in missing)
    for package in qtcheck.packages_for(missing):
        assert package in qtcheck.README_PACKAGES or package.startswith("lib")


def test_a_missing_system_library_on_import_is_not_called_a_python_package():
    err = ImportError("libEGL.so.1: cannot open shared object file: No such file or directory")
    assert qtcheck.library_import_error(err).endswith("sudo apt-get install libegl1")
    assert qtcheck.library_import_error(ImportError("No module named 'pyqtgraph'")) is None


def test_readme_lists_the_packages():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for package in qtcheck.README_PACKAGES:
        assert package in readme, package
