"""Simulated wearer with ground truth; virtual peripherals on a Bumble radio.

`simulate()` (imu.sim.session) makes a whole session: notifications as real imu-fw frames
and the truth (angles, phases, slouch episodes). Scenarios: imu.sim.scenarios.
"""

from imu.sim.session import SCENARIOS, SimulatedSession, Truth, simulate, simulate_truth, to_interchange_csv

__all__ = ["SCENARIOS", "SimulatedSession", "Truth", "simulate", "simulate_truth", "to_interchange_csv"]
