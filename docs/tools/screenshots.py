"""Screenshots of the report (desktop and phone width, headless Chromium) and the dashboard.

    python docs/tools/screenshots.py [--out docs/screenshots] [--duration 1200]

Simulates a 20-minute desk session, writes its report, and saves:
report-desktop.png (1280 px wide), report-phone.png (390 px wide, a phone in portrait),
dashboard.png (the replay dashboard inside a slouch episode, offscreen Qt).
Chromium comes from the system (Debian: `apt-get install chromium`); without it the
report shots are skipped with one line saying so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DESKTOP = (1280, 2600)
PHONE = (390, 3000)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_binary() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def browser_screenshot(html: Path, png: Path, size: tuple[int, int], browser: str | None = None,
                       timeout_s: float = 120.0) -> Path:
    """Render a local HTML file in headless Chromium at size (CSS pixels) into png."""
    browser = browser or chromium_binary()
    if browser is None:
        raise RuntimeError("no Chromium found (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:  # no state shared with a desktop browser
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                   "--force-device-scale-factor=1", f"--user-data-dir={profile}",
                   f"--window-size={size[0]},{size[1]}", f"--screenshot={png}",
                   Path(html).resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0 or not png.exists():
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "screenshots"))
    parser.add_argument("--duration", type=float, default=1200.0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MPLBACKEND", "Agg")

    from imu.cli import main as imu_main

    with tempfile.TemporaryDirectory() as work:
        session = Path(work) / "desk.imu"
        imu_main(["simulate", "desk", "-o", str(session), "--duration", str(args.duration)])
        report = Path(work) / "report"
        imu_main(["report", str(session), "-o", str(report)])
        browser = chromium_binary()
        if browser is None:
            print("chromium not found: report screenshots skipped (apt-get install chromium)")
        else:
            for name, size in (("report-desktop.png", DESKTOP), ("report-phone.png", PHONE)):
                print(f"wrote {browser_screenshot(report / 'report.html', out / name, size, browser)}")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        import dashboards

        from imu.analysis import analyze, open_source

        analysis = analyze(open_source(session))
        at = analysis.episodes[0].start_s + 35.0 if analysis.episodes else args.duration / 2
        print(f"wrote {dashboards.screenshot(session, out / 'dashboard.png', at)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main())
