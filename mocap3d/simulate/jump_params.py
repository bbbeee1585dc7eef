"""Parameters of simulated jumps: experimental groups, and one trial drawn from a group.

A :class:`JumpGroup` holds what differs between experimental groups (e.g. a "perturbed" group
with a weaker push-off and weaker extensor EMG); :func:`draw_trial` draws one trial's
:class:`TrialParams` from a group and a seed (trial-to-trial variation), reproducibly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from mocap3d.errors import InputError

MUSCLES = ("gastrocnemius", "tibialis anterior", "vastus lateralis", "biceps femoris")


@dataclass(frozen=True)
class MuscleTiming:
    """When a muscle bursts, relative to jump events (s; negative = before the event).

    ``pushoff`` bursts start at ``pushoff_start + pushoff_onset`` and end at
    ``takeoff + pushoff_end``; ``landing`` bursts start at ``landing + landing_onset`` and
    last ``landing_duration``. ``None`` means no burst in that phase. Amplitudes are peak
    EMG at the muscle (V) before the group's gain.
    """

    pushoff_onset: float | None
    pushoff_end: float
    pushoff_amplitude: float
    landing_onset: float | None
    landing_duration: float
    landing_amplitude: float


DEFAULT_TIMING: Mapping[str, MuscleTiming] = {
    # ankle extensor: push-off and landing
    "gastrocnemius": MuscleTiming(-0.012, -0.005, 0.6e-3, -0.020, 0.045, 0.4e-3),
    # ankle flexor: lifts the foot in flight, active before touchdown
    "tibialis anterior": MuscleTiming(None, 0.0, 0.0, -0.060, 0.050, 0.3e-3),
    # knee extensor: push-off and landing
    "vastus lateralis": MuscleTiming(-0.020, -0.008, 0.5e-3, -0.025, 0.050, 0.45e-3),
    # hip extensor / knee flexor: push-off
    "biceps femoris": MuscleTiming(-0.016, -0.010, 0.4e-3, -0.010, 0.030, 0.2e-3),
}


@dataclass(frozen=True)
class JumpGroup:
    """What an experimental group's jumps look like (means; trials vary around them).

    Attributes
    ----------
    name : str
    takeoff_speed_z, takeoff_speed_x : float
        Mean vertical and forward centre-of-mass speed at takeoff, m/s.
    pushoff_duration_s : float
        Mean push-off duration (force rise to takeoff).
    crouch_depth_mm, crouch_duration_s : float
        Mean preparatory lowering of the centre of mass and its duration.
    emg_gain : mapping of muscle → float
        Multiplies that muscle's push-off burst amplitude (1 = control).
    emg_delay_s : float
        Added to every push-off burst onset (positive = later).
    variability : float
        Relative trial-to-trial standard deviation of speeds, durations and depths.
    """

    name: str = "control"
    takeoff_speed_z: float = 0.85
    takeoff_speed_x: float = 0.30
    pushoff_duration_s: float = 0.060
    crouch_depth_mm: float = 7.0
    crouch_duration_s: float = 0.120
    emg_gain: Mapping[str, float] = field(default_factory=dict)
    emg_delay_s: float = 0.0
    variability: float = 0.05

    def __post_init__(self) -> None:
        where = f"jump group {self.name!r}"
        checks = {
            "takeoff_speed_z": (0.2, 2.0),
            "takeoff_speed_x": (0.0, 1.5),
            "pushoff_duration_s": (0.03, 0.12),
            "crouch_depth_mm": (0.0, 12.0),
            "crouch_duration_s": (0.05, 0.3),
            "variability": (0.0, 0.2),
        }
        for name, (lo, hi) in checks.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise InputError(f"{where}: {name} must be in [{lo}, {hi}], found {value}")
        unknown = [m for m in self.emg_gain if m not in MUSCLES]
        if unknown:
            raise InputError(f"{where}: emg_gain names unknown muscles {unknown}; use {MUSCLES}")


CONTROL = JumpGroup("control")
PERTURBED = JumpGroup(
    "perturbed",
    takeoff_speed_z=0.65,
    takeoff_speed_x=0.26,
    pushoff_duration_s=0.066,
    emg_gain={"gastrocnemius": 0.6, "vastus lateralis": 0.7, "biceps femoris": 0.8},
    emg_delay_s=0.004,
)
GROUPS: Mapping[str, JumpGroup] = {"control": CONTROL, "perturbed": PERTURBED}


def group_by_name(name: str) -> JumpGroup:
    """A built-in group (``control`` or ``perturbed``)."""
    if name not in GROUPS:
        raise InputError(f"unknown jump group {name!r}; built-in groups are {list(GROUPS)}")
    return GROUPS[name]


@dataclass(frozen=True)
class TrialParams:
    """One trial's parameters (drawn by :func:`draw_trial`; times in s from trial start)."""

    group: str
    onset_s: float
    crouch_duration_s: float
    crouch_depth_mm: float
    hold_s: float
    pushoff_duration_s: float
    takeoff_speed_z: float
    takeoff_speed_x: float
    landing_squat_mm: float
    recovery_duration_s: float
    start_x_mm: float
    start_y_mm: float
    heading_deg: float
    pitch_at_takeoff_deg: float
    emg_gain: Mapping[str, float]
    emg_onset_jitter_s: Mapping[str, float]
    emg_delay_s: float


def draw_trial(group: JumpGroup, seed: int | np.random.SeedSequence) -> TrialParams:
    """Draw one trial of ``group``; the same seed gives the same trial."""
    rng = np.random.default_rng(seed)
    v = group.variability

    def vary(mean: float) -> float:
        return float(mean * (1.0 + v * np.clip(rng.standard_normal(), -2.5, 2.5)))

    gains = {m: float(group.emg_gain.get(m, 1.0) * rng.uniform(0.9, 1.1)) for m in MUSCLES}
    jitter = {m: float(rng.normal(0.0, 0.002)) for m in MUSCLES}
    return TrialParams(
        group=group.name,
        onset_s=float(rng.uniform(0.10, 0.18)),
        crouch_duration_s=vary(group.crouch_duration_s),
        crouch_depth_mm=vary(group.crouch_depth_mm),
        hold_s=float(rng.uniform(0.015, 0.04)),
        pushoff_duration_s=vary(group.pushoff_duration_s),
        takeoff_speed_z=vary(group.takeoff_speed_z),
        takeoff_speed_x=vary(group.takeoff_speed_x),
        landing_squat_mm=float(rng.uniform(6.0, 10.0)),
        recovery_duration_s=float(rng.uniform(0.12, 0.18)),
        start_x_mm=float(rng.uniform(-24.0, -18.0)),
        start_y_mm=float(rng.uniform(-3.0, 3.0)),
        heading_deg=float(rng.normal(0.0, 3.0)),
        pitch_at_takeoff_deg=float(rng.uniform(25.0, 35.0)),
        emg_gain=gains,
        emg_onset_jitter_s=jitter,
        emg_delay_s=group.emg_delay_s,
    )
