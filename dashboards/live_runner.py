"""`imu live --dashboard`: the live loop in a worker thread, the dashboard on the Qt thread.

The live loop owns its asyncio event loop (BLE, recording, alerts) and only appends step
updates to the dashboard's queue, so the GUI can never stall the sensors; the GUI drains
the queue on its own timer. Closing the window or Ctrl-C asks the session to stop, and it
closes its file and writes its report as usual.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from dataclasses import replace


def run_live_dashboard(options, dash=None, fallback: bool = False) -> int:
    """Run one live session (imu.live.LiveOptions) with the live dashboard; the exit code.

    dash: an existing LiveDashboard to feed (tests read it afterwards); a new one otherwise.
    fallback: without real sensors, say so and run virtual ones (as `imu live` does).
    """
    from dashboards.qtcheck import check_display

    check_display()  # before any sensor connects: one line, not a Qt abort
    from pyqtgraph.Qt import QtCore

    from dashboards import _application, _dispose
    from dashboards.live import LiveDashboard
    from imu.live.command import run_session, say_falling_back, virtual_instead
    from imu.live.session import LiveSession, NoRealSensors

    app = _application()
    dash = dash or LiveDashboard()
    dash.setWindowTitle("imu live")
    dash.resize(1400, 860)
    dash.show()
    options = replace(options, dashboard_sink=dash)
    current = {"session": LiveSession(options)}
    result: dict[str, int] = {}
    worker_loop: dict[str, asyncio.AbstractEventLoop] = {}

    async def main() -> int:
        worker_loop["loop"] = asyncio.get_running_loop()
        if fallback and options.virtual is None:
            try:
                return await current["session"].run()
            except NoRealSensors as err:
                say_falling_back(err)
                current["session"] = LiveSession(virtual_instead(options))
        return await run_session(current["session"])

    def work() -> None:
        try:
            result["code"] = asyncio.run(main())
        except Exception as err:  # reported once, never a traceback
            print(f"imu: live session failed: {type(err).__name__}: {err}", flush=True)
            result["code"] = 1

    def stop(reason: str) -> None:
        loop = worker_loop.get("loop")
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(current["session"].request_stop, reason)

    thread = threading.Thread(target=work, name="imu-live", daemon=True)
    thread.start()
    previous = signal.signal(signal.SIGINT, lambda *_: stop("interrupted"))
    app.aboutToQuit.connect(lambda: stop("window closed"))
    watcher = QtCore.QTimer()
    watcher.setInterval(200)  # also lets Python run its signal handlers during Qt's loop
    watcher.timeout.connect(lambda: None if thread.is_alive() else app.quit())
    watcher.start()
    try:
        app.exec()
        stop("window closed")
        thread.join()
    finally:
        signal.signal(signal.SIGINT, previous)
        watcher.stop()
        _dispose(dash, app)
    return result.get("code", 1)
