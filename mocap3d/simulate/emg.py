"""EMG bursts tied to the jump, and the band-limited noise that carries them.

A burst is an amplitude envelope (V at the muscle) that rises from exactly 0 at its onset over
``RISE_S`` (a C2 smooth step), holds, and falls over ``FALL_S`` before its offset; the signal is
envelope × a unit-variance band-limited (20–450 Hz) Gaussian carrier, plus baseline noise and
optional mains hum. The truth onset is the first instant the envelope is non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from mocap3d.simulate.jump import Jump
from mocap3d.simulate.jump_params import DEFAULT_TIMING, MUSCLES, MuscleTiming
from mocap3d.simulate.jump_profiles import smooth5

RISE_S = 0.003
FALL_S = 0.008
BAND_HZ = (20.0, 450.0)


@dataclass(frozen=True)
class Burst:
    """One EMG burst of one channel, times in seconds on the session (master) clock."""

    channel: str
    muscle: str
    trial: str
    phase: str  # "pushoff" or "landing"
    onset_s: float
    offset_s: float
    amplitude_v: float  # peak envelope at the muscle


def muscle_timing(muscle: str) -> MuscleTiming:
    """Timing of a muscle by name (case-insensitive); unknown muscles burst like the
    gastrocnemius (an extensor active at push-off and landing)."""
    key = muscle.strip().lower()
    return DEFAULT_TIMING.get(key, DEFAULT_TIMING[MUSCLES[0]])


def trial_bursts(
    jump: Jump, *, trial: str, start_s: float, channels: dict[str, str]
) -> list[Burst]:
    """The bursts of every EMG channel (``name → muscle``) in one trial starting at ``start_s``."""
    ev = jump.events
    p = jump.params
    out = []
    for channel, muscle in channels.items():
        tm = muscle_timing(muscle)
        key = muscle.strip().lower()
        gain = p.emg_gain.get(key, 1.0)
        jitter = p.emg_onset_jitter_s.get(key, 0.0)
        if tm.pushoff_onset is not None:
            on = start_s + ev.pushoff_start + tm.pushoff_onset + jitter + p.emg_delay_s
            off = start_s + ev.takeoff + tm.pushoff_end
            out.append(
                Burst(channel, muscle, trial, "pushoff", on, off, tm.pushoff_amplitude * gain)
            )
        if tm.landing_onset is not None:
            on = start_s + ev.landing + tm.landing_onset + jitter
            off = on + tm.landing_duration
            out.append(Burst(channel, muscle, trial, "landing", on, off, tm.landing_amplitude))
    return out


def envelope(t: np.ndarray, bursts: list[Burst]) -> np.ndarray:
    """Sum of the bursts' envelopes (V) at master times ``t``."""
    out = np.zeros(t.shape)
    for b in bursts:
        if b.offset_s < t[0] or b.onset_s > t[-1]:
            continue
        rise = smooth5((t - b.onset_s) / RISE_S)
        fall = 1.0 - smooth5((t - (b.offset_s - FALL_S)) / FALL_S)
        out += b.amplitude_v * rise * fall
    return out


@cache
def carrier_filter(rate_hz: float, numtaps: int = 401) -> np.ndarray:
    """FIR band-pass (``BAND_HZ``) taps, normalised so white unit noise gives unit variance."""
    from scipy.signal import firwin

    hi = min(BAND_HZ[1], 0.45 * rate_hz)
    h = firwin(numtaps, [BAND_HZ[0], hi], pass_zero=False, fs=rate_hz)
    return np.asarray(h / np.sqrt(np.sum(h**2)))
