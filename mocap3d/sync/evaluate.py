"""Sync results against a simulated session's ground truth (for the demo and benchmarks).

:func:`compare_to_truth` lines up what :func:`mocap3d.sync.session.sync_recording` recovered
with what the simulator injected (:class:`mocap3d.simulate.truth.SessionTruth`): dropped frames,
missing and extra exposure pulses, frame times, the sync box clock and the cameras' clocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mocap3d.sync.frames import DROPPED, NO_PULSE
from mocap3d.sync.session import SessionSync

if TYPE_CHECKING:
    from mocap3d.simulate.truth import SessionTruth


@dataclass(frozen=True)
class Comparison:
    """One recovered quantity beside the truth."""

    quantity: str
    recovered: float
    truth: float
    unit: str


def compare_to_truth(
    result: SessionSync, truth: SessionTruth, *, syncbox: str = "syncbox"
) -> list[Comparison]:
    """Recovered vs injected: faults found, frame-time errors, clock drifts.

    Parameters
    ----------
    result : SessionSync
        Sync of the simulated session (all its trials).
    truth : SessionTruth
        The simulator's truth (``read_truth(<session>/truth/truth.h5)``).
    syncbox : str
        Name under which the sync box clock was fitted (``devices={syncbox: ...}``), if any.

    Returns
    -------
    list of Comparison
        Dropped frames (found / injected, and false finds), missing and extra pulses, the
        largest and RMS frame-time error (µs, truth 0), sync box drift (ppm) and offset (s),
        the largest camera-clock drift error (ppm).
    """
    drops_true = drops_found = drops_false = 0
    miss_true = miss_found = 0
    errors = []
    found_extra: list[np.ndarray] = []
    for trial, tt in truth.trials.items():
        maps = result.maps[trial]
        for v, cam in enumerate(tt.views):
            fm = maps[cam]
            kept = tt["video_frame"][v] >= 0
            true_drop = np.flatnonzero(~kept)
            found = np.flatnonzero(fm.slot_status == DROPPED)
            drops_true += true_drop.size
            drops_found += np.intersect1d(found, true_drop).size
            drops_false += np.setdiff1d(found, true_drop).size
            errors.append(fm.frame_time - tt["frame_time_s"][kept])
        first = maps[tt.views[0]]
        miss = np.flatnonzero(first.slot_status == NO_PULSE)
        miss_true += tt["ttl_missing"].size
        miss_found += np.intersect1d(miss, tt["ttl_missing"]).size
        found_extra.append(first.extra_pulse_times)
    extra = np.concatenate(found_extra) if found_extra else np.empty(0)
    true_extra = truth.ttl_extra[:, 0] if truth.ttl_extra.size else np.empty(0)
    tol = 2.0 / float(truth.attrs.get("master_rate_hz", 20_000.0))
    extra_found = sum(bool(np.any(np.abs(extra - t) < tol)) for t in true_extra)
    err = np.concatenate(errors) if errors else np.zeros(1)
    rows = [
        Comparison("dropped frames found", drops_found, drops_true, "frames"),
        Comparison("dropped frames wrongly reported", drops_false, 0, "frames"),
        Comparison("missing exposure pulses found", miss_found, miss_true, "pulses"),
        Comparison("extra exposure pulses found", extra_found, true_extra.size, "pulses"),
        Comparison("frame time error, max", 1e6 * float(np.abs(err).max()), 0.0, "µs"),
        Comparison("frame time error, RMS", 1e6 * float(np.sqrt(np.mean(err**2))), 0.0, "µs"),
    ]
    faults = truth.attrs.get("faults", {})
    if syncbox in result.clocks:
        fit = result.clocks[syncbox]
        rows.append(Comparison("sync box clock drift", fit.drift_ppm,
                               float(faults.get("syncbox_drift_ppm", 0.0)), "ppm"))  # fmt: skip
        rows.append(Comparison("sync box clock offset", fit.offset_s,
                               float(faults.get("syncbox_offset_s", 0.0)), "s"))  # fmt: skip
    clocks = truth.attrs.get("camera_clocks", {})
    worst = [
        abs(fm.camera_clock.drift_ppm - float(clocks[cam]["drift_ppm"]))
        for cams in result.maps.values()
        for cam, fm in cams.items()
        if fm.camera_clock is not None and cam in clocks
    ]
    if worst:
        rows.append(Comparison("camera clock drift error, max", max(worst), 0.0, "ppm"))
    return rows
