"""Live-loop figures: pipeline cost per notification, alert delay, sensors one process sustains.

    python benchmarks/bench_live.py [--quick]

1. Step cost: a simulated smoke session (thoracic + lumbar + sacral, imu-fw) fed to a
   calibrated Runner (as live uses it: no collectors, provisional grades) in 40 ms chunks, as
   the live loop does at speed 1: wall time per notification (median, p99) and per step.
2. Alert delay: a virtual `imu live` session (bleak over the virtual radio) at speed 2 with
   40 ms session steps; for each alert, the session time between its due moment and the
   moment the sinks got it (terminal) and the buzz reached the thoracic sensor, also in wall ms.
3. Scale: W wearers of three virtual imu-fw sensors at 100 Hz (thoracic, lumbar, sacral), each
   wearer with its own hub, calibrated Runner and SessionWriter, stepped every 40 ms for a few
   seconds at speed 1. The largest W without lost frames and without running late is
   searched: W doubles until a run fails, then the last good and first bad are bisected.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imu.core.calibrate import calibrate  # noqa: E402
from imu.core.pipeline import Pipeline  # noqa: E402
from imu.profile import Thresholds  # noqa: E402
from imu.runner import AlertSink, Runner  # noqa: E402


def smoke_calibration():
    """A three-sensor smoke session and the calibration its start gives."""
    from imu.sim import simulate

    sim = simulate("smoke", seed=0, sacral=True, rates_hz={"lumbar": 100}, loss_rate=0.0)
    thr = Thresholds()
    sensors = {loc: {"device": "imu-fw", "rate_hz": info["rate_hz"]} for loc, info in sim.sensors.items()}
    out = Pipeline(sensors, thr).feed([n for n in sim.notifications if n.host_time_s < 35.0])
    return sim, sensors, calibrate(out.grid.t, out.grid.quat, thr)


def bench_pipeline_cost() -> dict:
    sim, sensors, calibration = smoke_calibration()
    pipeline = Runner(sensors, Thresholds(), calibration, collect=False)
    notes = sim.notifications
    per_note, per_step, i = [], [], 0
    end = 0.04
    while i < len(notes):
        j = i
        while j < len(notes) and notes[j].host_time_s < end:
            j += 1
        chunk = notes[i:j]
        t0 = time.perf_counter()
        pipeline.feed(chunk)
        dt = time.perf_counter() - t0
        per_step.append(dt)
        if chunk:
            per_note.extend([dt / len(chunk)] * len(chunk))
        i, end = j, end + 0.04
    per_note_us = np.array(per_note) * 1e6
    per_step_ms = np.array(per_step) * 1e3
    return {"notifications": len(notes), "session_s": sim.duration_s,
            "per_notification_us_median": float(np.median(per_note_us)),
            "per_notification_us_p99": float(np.percentile(per_note_us, 99)),
            "per_step_ms_median": float(np.median(per_step_ms)),
            "per_step_ms_p99": float(np.percentile(per_step_ms, 99)),
            "cpu_share_at_speed_1": float(np.sum(per_step) / sim.duration_s)}


async def bench_alert_delay(speed: float, duration: float) -> dict:
    from imu.live import LiveOptions, LiveSession

    os.environ.setdefault("IMU_HOME", tempfile.mkdtemp(prefix="imu-bench-home-"))
    folder = Path(tempfile.mkdtemp(prefix="imu-bench-live-"))
    session = LiveSession(LiveOptions(virtual="smoke", speed=speed, output=str(folder / "s.imu"),
                                      jsonl=True, stdout=io.StringIO(), duration=duration,
                                      report=False, step_s=0.04, desktop=False))
    delays = []

    class Probe:
        def alert(self, event):
            delays.append(session.clock.now() - event["t"])

    original = session._open_recording

    def open_recording():
        original()
        session.outputs.step_sinks.insert(0, AlertSink(Probe().alert))

    session._open_recording = open_recording
    await session.run()
    alerts = [e for e in session.events if e["event"] == "alert"]
    buzz = [b[0] - a["t"] for a, b in zip(alerts, session.rig.sensors["thoracic"].buzzes)]
    return {"speed": speed, "alerts": len(alerts),
            "sink_delay_session_ms": [round(d * 1e3, 1) for d in delays],
            "sink_delay_wall_ms": [round(d * 1e3 / speed, 1) for d in delays],
            "buzz_at_sensor_delay_wall_ms": [round(d * 1e3 / speed, 1) for d in buzz]}


async def scale_run(n_sensors: int, seconds: float, calibration=None) -> dict:
    from imu.ble import SensorChoice, SensorHub
    from imu.live.virtual import GatedClock
    from imu.recording.session import SessionWriter
    from imu.sim.frames import synthetic_imu_fw_source
    from imu.sim.peripherals import ImuFwPeripheral
    from imu.sim.radio import VirtualRadio

    locations = ("thoracic", "lumbar", "sacral")
    folder = Path(tempfile.mkdtemp(prefix="imu-bench-scale-"))
    async with VirtualRadio() as radio:
        clock = GatedClock(1.0)
        sensors, hubs = [], []
        for g in range(0, n_sensors, 3):
            group = {}
            for k, loc in enumerate(locations[:min(3, n_sensors - g)]):
                p = ImuFwPeripheral(radio, f"IMU-{g + k}", synthetic_imu_fw_source(100, seconds), clock)
                await p.start()
                group[loc] = p
                sensors.append(p)
            writer = SessionWriter(folder / f"g{g}.imu", {}, [{"location": loc, "device": "imu-fw"} for loc in group])
            pipeline = Runner({loc: {"device": "imu-fw", "rate_hz": 100} for loc in group}, Thresholds(),
                              calibration, collect=False)
            pending = []

            def on_note(loc, t, payload, pending=pending, writer=writer):
                writer.add_notification(loc, t, payload)
                pending.append((loc, t, payload))

            hub = SensorHub({loc: SensorChoice(loc, "imu-fw", address=p.address) for loc, p in group.items()},
                            on_note, backend=radio, clock=clock, scan_timeout_s=2.0, stall_timeout_s=30.0)
            hubs.append((hub, pipeline, pending, writer))
        for hub, *_ in hubs:
            await hub.start(wait_s=20)
        clock.release()
        from imu.samples import Notification

        step_lag, k = [], 1
        cpu0 = time.process_time()
        while clock.now() < seconds:
            await clock.sleep_until(k * 0.04)
            step_lag.append(clock.now() - k * 0.04)
            k += 1
            for hub, pipeline, pending, writer in hubs:
                items = [Notification(*x) for x in pending]
                pending.clear()
                pipeline.feed(items)
        cpu = (time.process_time() - cpu0) / seconds
        for hub, _, _, writer in hubs:
            await hub.stop()
            writer.close()
        for p in sensors:
            await p.stop()
    missed = sum(p.missed for p in sensors)
    lost = sum(d.stats.lost_samples for _, runner, _, _ in hubs for d in runner.pipeline.front.decoders.values())
    return {"sensors": n_sensors, "missed_frames": missed, "lost_samples": lost,
            "step_lag_ms_median": round(float(np.median(step_lag)) * 1e3, 1),
            "step_lag_ms_p99": round(float(np.percentile(step_lag, 99)) * 1e3, 1),
            "process_cpu": round(cpu, 2),
            "ok": missed == 0 and lost == 0 and float(np.median(step_lag)) < 0.04}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print("1. pipeline cost (3 sensors, 40 ms chunks):")
    for k, v in bench_pipeline_cost().items():
        print(f"   {k}: {v:.4g}" if isinstance(v, float) else f"   {k}: {v}")
    print("2. alert delay (virtual live session, smoke):")
    for k, v in asyncio.run(bench_alert_delay(2.0, 75.0)).items():
        print(f"   {k}: {v}")
    print("3. virtual 100 Hz sensors one process sustains (calibrated runner + recording per wearer of 3):")
    _, _, calibration = smoke_calibration()
    seconds = 4.0 if args.quick else 8.0
    results: dict[int, bool] = {}

    def ok(wearers: int) -> bool:
        if wearers not in results:
            result = asyncio.run(scale_run(3 * wearers, seconds, calibration))
            print(f"   {result}", flush=True)
            results[wearers] = result["ok"]
        return results[wearers]

    good, bad = 0, 1
    while ok(bad):  # double until a run fails
        good, bad = bad, 2 * bad
    while bad - good > 1:  # then bisect between the last good and the first bad
        mid = (good + bad) // 2
        good, bad = (mid, bad) if ok(mid) else (good, mid)
    print(f"   sustained without loss or lag: {3 * good} sensors at 100 Hz ({good} wearers; "
          f"{3 * bad} failed; searched over {sorted(results)} wearers)")


if __name__ == "__main__":
    main()
