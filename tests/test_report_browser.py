"""The report in a real browser: headless Chromium at desktop and phone width.

Skips only when no Chromium is installed (Debian: apt-get install chromium).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imu.report import write_report

TOOLS = Path(__file__).resolve().parents[1] / "docs" / "tools" / "screenshots.py"
spec = importlib.util.spec_from_file_location("screenshots", TOOLS)
screenshots = importlib.util.module_from_spec(spec)
spec.loader.exec_module(screenshots)

pytestmark = pytest.mark.skipif(screenshots.chromium_binary() is None,
                                reason="no Chromium installed (apt-get install chromium)")

WELL_GREEN = (0xF0, 0xFA, 0xF2)  # .well background
WORK_ORANGE = (0xFF, 0xF7, 0xED)  # .work background


def _boxes(png: Path) -> dict[str, np.ndarray]:
    """Bounding boxes (x0, y0, x1, y1) of the two answer panels, found by their colours."""
    pixels = np.asarray(Image.open(png).convert("RGB"))
    found = {}
    for name, colour in (("well", WELL_GREEN), ("work", WORK_ORANGE)):
        ys, xs = np.nonzero(np.all(pixels == colour, axis=2))
        assert ys.size > 2000, f"no {name} panel drawn in {png.name}"
        found[name] = np.array([xs.min(), ys.min(), xs.max(), ys.max()])
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from test_report import session

    out = tmp_path_factory.mktemp("browser")
    return write_report(session(), out / "report", {"kind": "csv", "file": "desk.csv"})["report.html"]


def test_desktop_shows_the_answer_side_by_side_at_the_top(report, tmp_path):
    png = screenshots.browser_screenshot(report, tmp_path / "desktop.png", (1280, 1200))
    assert Image.open(png).size == (1280, 1200)
    boxes = _boxes(png)
    # two columns, near the top of the page
    assert boxes["well"][2] < boxes["work"][0]
    assert boxes["well"][1] < 300 and abs(boxes["well"][1] - boxes["work"][1]) < 5


def test_phone_width_stacks_the_answer_and_fits_the_screen(report, tmp_path):
    png = screenshots.browser_screenshot(report, tmp_path / "phone.png", (390, 1600))
    boxes = _boxes(png)
    assert boxes["well"][3] < boxes["work"][1]  # stacked, the good news first
    for box in boxes.values():
        assert box[0] >= 4 and box[2] <= 390 - 4  # inside the screen, no sideways scrolling
