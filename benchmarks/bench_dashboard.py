"""Dashboard frame rate, offscreen, while a producer thread streams three sensors at 200 Hz.

A real pipeline replays a simulated three-sensor session (all at 200 Hz) at 1x into the
LiveDashboard from another thread, as the BLE loop would. Reported: the frames the 30 fps
timer actually drew, and an unthrottled loop (drain + full repaint) for the headroom.

    python benchmarks/bench_dashboard.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pyqtgraph.Qt import QtWidgets  # noqa: E402

from dashboards import LiveDashboard  # noqa: E402
from imu.replay import replay  # noqa: E402
from imu.sim import simulate  # noqa: E402
from imu.sim.write import write_simulated_session  # noqa: E402

RATES = {"thoracic": 200.0, "lumbar": 200.0, "sacral": 200.0}


def stream(dashboard, path, from_s, stop) -> threading.Thread:
    class Until:
        def now(self):
            return time.monotonic()

        def sleep(self, seconds):
            if stop.is_set():
                raise SystemExit  # ends the producer thread quietly
            time.sleep(seconds)

    thread = threading.Thread(target=lambda: replay(path, speed=1.0, from_s=from_s,
                                                    sinks=[dashboard], clock=Until()), daemon=True)
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "desk3.imu"
        sim = simulate("desk_sacral", 200.0, seed=1, rates_hz=RATES)
        write_simulated_session(sim, path, "desk_sacral", 1)
        for label, unthrottled in (("30 fps timer", False), ("unthrottled repaint", True)):
            dashboard = LiveDashboard()
            dashboard.resize(1600, 900)
            dashboard.show()
            stop = threading.Event()
            producer = stream(dashboard, path, 70.0, stop)
            app.processEvents()
            time.sleep(1.0)  # a minute of trace is not needed: the first second fills it enough
            first, began = dashboard.frames, time.monotonic()
            worst_backlog, repaints = 0, 0
            while time.monotonic() - began < args.seconds:
                worst_backlog = max(worst_backlog, dashboard.backlog)
                if unthrottled:  # every iteration draws the whole window, data or not
                    dashboard.drain()
                    dashboard.view.show_frame(dashboard.model.frame())
                    dashboard.view.repaint()
                    repaints += 1
                else:
                    time.sleep(0.002)
                app.processEvents()
            elapsed = time.monotonic() - began
            frames = repaints if unthrottled else dashboard.frames - first
            stop.set()
            producer.join(timeout=5)
            print(f"{label}: {frames / elapsed:.1f} frames/s over {elapsed:.1f} s "
                  f"(three sensors at 200 Hz, 1600x900), largest queue backlog {worst_backlog} steps")
            dashboard.close()
            dashboard.deleteLater()
            app.processEvents()


if __name__ == "__main__":
    main()
