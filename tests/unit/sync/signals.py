"""Synthetic TTL recordings with known truth for the sync tests and benchmark.

Exposure pulse trains at 500 fps sampled at 20 kHz with noise, ringing, a slow baseline and a
sub-sample phase; faults (dropped frames, extra/missing pulses, skipped triggers); camera frame
logs on a drifting camera clock; barcodes seen by a device on its own clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mocap3d.io.frames import FrameLog
from mocap3d.sync.barcode import render_ttl

RATE = 20_000.0
FPS = 500.0
HIGH = 5.0


def impair(
    x: np.ndarray,
    rising: np.ndarray,
    falling: np.ndarray,
    *,
    rate_hz: float,
    rng: np.random.Generator,
    t0_s: float = 0.0,
    noise_v: float = 0.05,
    ringing: float = 0.15,
    ring_hz: float = 7_000.0,
    ring_decay_s: float = 80e-6,
    baseline_v: float = 0.3,
    baseline_period_s: float = 7.0,
) -> np.ndarray:
    """Add ringing after each edge, a slow baseline and white noise (in place, returns x)."""
    n = x.size
    offs = np.arange(0, int(np.ceil(6 * ring_decay_s * rate_hz)) + 2)
    for times, sign in ((rising, 1.0), (falling, -1.0)):
        if not len(times) or ringing == 0:
            continue
        first = np.ceil((np.asarray(times) - t0_s) * rate_hz).astype(np.int64)
        idx = first[:, None] + offs[None, :]
        ok = idx < n
        tau = t0_s + idx / rate_hz - np.asarray(times)[:, None]
        ring = (
            sign * ringing * HIGH * np.exp(-tau / ring_decay_s) * np.sin(2 * np.pi * ring_hz * tau)
        )
        np.add.at(x, idx[ok], ring[ok].astype(x.dtype))
    if baseline_v:
        t = t0_s + np.arange(n) / rate_hz
        x += (baseline_v * np.sin(2 * np.pi * t / baseline_period_s + 0.7)).astype(x.dtype)
    if noise_v:
        x += rng.normal(0.0, noise_v, n).astype(x.dtype)
    return x


@dataclass
class CameraTruth:
    """One camera in one trial: what happened, and what the rig recorded."""

    slot_time: np.ndarray  # (n_slots,) true trigger times (s)
    frame_slot: np.ndarray  # (n_frames,) slot of each video frame
    pulse_slot: np.ndarray  # slots whose pulse was recorded
    dropped: np.ndarray  # slots with a pulse but no frame
    missing: np.ndarray  # slots whose pulse the DAQ missed (frame exists)
    skipped: np.ndarray  # slots the camera skipped (no pulse, no frame)
    extra_times: np.ndarray  # glitch pulse onsets (s)
    log: FrameLog
    rising: np.ndarray = field(default_factory=lambda: np.empty(0))
    falling: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def frame_time(self) -> np.ndarray:
        return self.slot_time[self.frame_slot]

    @property
    def n_frames(self) -> int:
        return int(self.frame_slot.size)


def camera_trial(
    rng: np.random.Generator,
    *,
    t_start: float,
    n_slots: int,
    fps: float = FPS,
    n_dropped: int = 0,
    n_missing: int = 0,
    n_skipped: int = 0,
    n_extra: int = 0,
    width_s: float = 1e-3,
    drift_ppm: float = 17.0,
    clock_offset_s: float = -3.25,
    ts_jitter_s: float = 1e-6,
) -> CameraTruth:
    """A burst of exposure pulses with faults at random slots (never the first or last)."""
    slots = np.arange(n_slots)
    slot_time = t_start + slots / fps
    inner = rng.permutation(np.arange(2, n_slots - 2))
    dropped = np.sort(inner[:n_dropped])
    missing = np.sort(inner[n_dropped : n_dropped + n_missing])
    skipped = np.sort(inner[n_dropped + n_missing : n_dropped + n_missing + n_skipped])
    no_frame = np.union1d(dropped, skipped)
    frame_slot = np.setdiff1d(slots, no_frame)
    pulse_slot = np.setdiff1d(slots, np.union1d(missing, skipped))
    # glitches in the quiet part of a period (a glitch on top of a pulse is invisible)
    g_slot = rng.choice(np.arange(n_slots - 1), n_extra, replace=False)
    extra = np.sort(slot_time[g_slot] + rng.uniform(0.55, 0.75, n_extra) / fps)
    rising = np.sort(np.concatenate((slot_time[pulse_slot], extra)))
    widths = np.where(np.isin(rising, extra), 2.5e-4, width_s)
    falling = rising + widths
    exposure_idx = np.cumsum(~np.isin(slots, skipped)) - 1  # the camera's exposure counter
    counter = 1000 + exposure_idx[frame_slot]
    ts = (slot_time[frame_slot] - clock_offset_s) / (1 + 1e-6 * drift_ppm)
    ts = ts + rng.normal(0, ts_jitter_s, ts.size)
    return CameraTruth(
        slot_time=slot_time,
        frame_slot=frame_slot,
        pulse_slot=pulse_slot,
        dropped=dropped,
        missing=missing,
        skipped=skipped,
        extra_times=extra,
        log=FrameLog(counter.astype(np.int64), ts),
        rising=rising,
        falling=falling,
    )


def ttl_channel(
    rising: np.ndarray,
    falling: np.ndarray,
    *,
    n_samples: int,
    rng: np.random.Generator,
    rate_hz: float = RATE,
    t0_s: float = 0.0,
    edge_sigma_s: float = 20e-6,
    dtype: type = np.float64,
    **impairments: float,
) -> np.ndarray:
    """Render a TTL channel and impair it (noise, ringing, baseline)."""
    x = render_ttl(
        rising,
        falling,
        rate_hz=rate_hz,
        n_samples=n_samples,
        t0_s=t0_s,
        high=HIGH,
        edge_sigma_s=edge_sigma_s,
        dtype=dtype,
    )
    return impair(x, rising, falling, rate_hz=rate_hz, rng=rng, t0_s=t0_s, **impairments)
