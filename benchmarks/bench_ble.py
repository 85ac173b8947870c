"""How many virtual imu-fw sensors at 100 Hz (4 samples per notification) one process
sustains without loss over the virtual radio, and the CPU each one costs.

Everything runs in this process: the peripherals, their controllers, the link and the
host side (SensorHub over the bleak backend). CPU is process time over wall time in a
measurement window after all sensors are connected.

    python benchmarks/bench_ble.py [--seconds 4] [--counts 1,5,10,20,40]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from imu.ble import SensorChoice, SensorHub, SessionClock
from imu.sim.frames import synthetic_imu_fw_source
from imu.sim.peripherals import ImuFwPeripheral
from imu.sim.radio import VirtualRadio

LOCATIONS = ("thoracic", "lumbar", "sacral")


async def run(count: int, seconds: float) -> dict:
    async with VirtualRadio() as radio:
        clock = SessionClock()
        source = synthetic_imu_fw_source(100, 120 + seconds)  # shared: peripherals only read it
        sensors = [ImuFwPeripheral(radio, f"IMU-BENCH-{i}", source, clock) for i in range(count)]
        for sensor in sensors:
            await sensor.start()
        received = {}
        links = []
        # SensorHub keys by body location, so run one hub per sensor with a shared lock-free
        # radio: the radio serialises connects itself.
        for i, sensor in enumerate(sensors):
            location = LOCATIONS[i % 3]
            got = received.setdefault(i, [])
            hub = SensorHub({location: SensorChoice(location, "imu-fw", address=sensor.address)},
                            lambda loc, t, p, got=got: got.append(p), backend=radio, clock=clock,
                            scan_timeout_s=5)
            await hub.start(wait_s=10)
            links.append(hub)
        settle = clock.now() + 0.5  # connects are serialised: measure once all are up
        await clock.sleep_until(settle)
        start_counts = [len(received[i]) for i in range(count)]
        sent_start = [len(s.sent) for s in sensors]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await clock.sleep_until(settle + seconds)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        await asyncio.sleep(0.05)  # let in-flight notifications land
        sent = sum(len(s.sent) - n for s, n in zip(sensors, sent_start))
        got = sum(len(received[i]) - n for i, n in zip(range(count), start_counts))
        lost = sum(len(s.sent) - len(received[i]) for i, s in enumerate(sensors))
        for hub in links:
            await hub.stop()
        for sensor in sensors:
            await sensor.stop()
    return {"sensors": count, "notif_per_s": got / wall, "expected_per_s": 25 * count,
            "lost": lost, "cpu_pct": 100 * cpu / wall, "cpu_pct_per_sensor": 100 * cpu / wall / count,
            "sent": sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--counts", default="1,5,10,20,40")
    args = parser.parse_args()
    print(f"{'sensors':>7} {'rx/s':>8} {'expected':>8} {'lost':>5} {'CPU %':>6} {'CPU %/sensor':>12}")
    for count in (int(c) for c in args.counts.split(",")):
        r = asyncio.run(run(count, args.seconds))
        print(f"{r['sensors']:>7} {r['notif_per_s']:>8.1f} {r['expected_per_s']:>8} {r['lost']:>5} "
              f"{r['cpu_pct']:>6.1f} {r['cpu_pct_per_sensor']:>12.2f}")
        if r["lost"] or r["notif_per_s"] < 0.97 * r["expected_per_s"]:
            print(f"loss or shortfall at {count} sensors: the process is saturated")
            break


if __name__ == "__main__":
    main()
