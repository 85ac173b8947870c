"""Can a Qt window open here? Answered before Qt is loaded, in one line when it cannot.

Without a display Qt would wait and then fail; with a display but without the X11 client
libraries its xcb platform plugin needs, Qt aborts the whole process (exit 134) after
printing a page of advice. Both are checked first: the environment for a display, and the
xcb plugin's shared libraries (`ldd`, which every glibc system has) for what is missing,
named as the Debian / Ubuntu packages that provide it. No Qt module is imported here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

from imu.errors import UserError

# shared library -> Debian / Ubuntu package (the same names on both)
DEBIAN_PACKAGES = {
    "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1", "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3", "libglib-2.0.so.0": "libglib2.0-0",
    "libxkbcommon.so.0": "libxkbcommon0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11.so.6": "libx11-6", "libX11-xcb.so.1": "libx11-xcb1", "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0", "libxcb-xkb.so.1": "libxcb-xkb1",
}
# what the README tells a Debian / Ubuntu user to install for the dashboard
README_PACKAGES = ("libegl1", "libgl1", "libfontconfig1", "libdbus-1-3", "libxkbcommon-x11-0",
                   "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
                   "libxcb-render-util0", "libxcb-shape0", "libxcb-xkb1", "libxcb-randr0",
                   "libxcb-xinerama0")


class DisplayUnavailable(UserError, ValueError):
    """No window can open here; the message says why and what to do, in one line."""


def packages_for(libraries: list[str]) -> list[str]:
    return sorted({DEBIAN_PACKAGES.get(lib, lib) for lib in libraries})


def missing_libraries(shared_object: Path) -> list[str]:
    """Shared libraries `ldd` cannot find for shared_object (empty when all resolve or ldd
    is unavailable)."""
    ldd = shutil.which("ldd")
    if ldd is None or not shared_object.exists():
        return []
    try:
        out = subprocess.run([ldd, str(shared_object)], capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(set(re.findall(r"^\s*(\S+) => not found", out, flags=re.M)))


def xcb_plugin() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(list(spec.submodule_search_locations)[0]) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.exists() else None


def check_display(environ=None) -> None:
    """Raise DisplayUnavailable when a dashboard window cannot open here."""
    env = os.environ if environ is None else environ
    if env.get("QT_QPA_PLATFORM"):
        return  # chosen explicitly (offscreen, vnc, wayland, ...): Qt's own business
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        raise DisplayUnavailable(
            "no display: the dashboard needs a graphical desktop (neither DISPLAY nor "
            "WAYLAND_DISPLAY is set); over SSH use `ssh -X`, or save a still image with "
            "`imu replay FILE --screenshot shot.png --at T`")
    if env.get("WAYLAND_DISPLAY") or not env.get("DISPLAY"):
        return
    plugin = xcb_plugin()
    missing = missing_libraries(plugin) if plugin is not None else []
    if missing:
        raise DisplayUnavailable(
            f"the dashboard cannot open a window: Qt's X11 plugin needs {', '.join(missing)}; "
            f"on Debian / Ubuntu: sudo apt-get install {' '.join(packages_for(missing))}")


def library_import_error(err: ImportError) -> str | None:
    """One line for an ImportError caused by a missing system library (not a missing Python
    package), naming the package to install; None for any other ImportError."""
    found = re.search(r"(lib[\w.+-]+\.so(?:\.\d+)*): cannot open shared object file", str(err))
    if not found:
        return None
    library = found.group(1)
    return (f"a system library the dashboard needs is missing ({library}); on Debian / "
            f"Ubuntu: sudo apt-get install {DEBIAN_PACKAGES.get(library, library)}")
