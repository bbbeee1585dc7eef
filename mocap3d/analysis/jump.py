"""Jump events and metrics from kinematics: phases, takeoff and landing, angles at takeoff.

**Kinematic events** (:func:`compute_kinematic_events`) from a poses3d dataset (mm, world z
up, time in s on the master clock):

- *foot height*: the lowest of the contact keypoints (default toe and MTP); the ground level is
  its median over the trial (the feet are down most of the time) and its noise the scaled
  median absolute deviation. The foot is airborne while it is more than ``lift_mm`` above the
  ground for at least ``min_flight_s``; takeoff is where it leaves the ground level before
  that and landing where it returns, each refined by a hinge fit (as for the force, so the
  smooth lift-off of a rolling foot is not detected late).
- *body height*: the mean height of the body keypoints (default iliac crest, hip, tail base).
  Movement onset is its first sustained (10 ms) departure from the quiet-stance level by more
  than ``k`` noise SDs (or ``min_threshold_mm``), traced back to the last crossing of that
  level; push-off starts when it leaves its lowest level before takeoff; the landing ends at
  its lowest point within ``landing_window_s`` after touchdown.

**Phases**: stance (data start → movement onset), crouch (→ push-off start), push-off
(→ takeoff), flight (→ landing), landing (→ landing end).

**Angle metrics** per joint: angle at takeoff, minimum, maximum and range from movement onset
to landing end, peak extension velocity in push-off, peak flexion velocity in landing.

EMG metrics per phase (latencies to movement onset and takeoff, burst durations, integrated
EMG) are in :mod:`mocap3d.analysis.emg_metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from mocap3d.analysis._metrics import Metrics
from mocap3d.analysis._signal import (
    crossing_time,
    first_run,
    fit_edge,
    moving_average,
    rolling_mean_sd,
    runs,
)
from mocap3d.analysis.angles import compute_angular_velocity
from mocap3d.errors import InputError

__all__ = [
    "EVENTS",
    "PHASES",
    "KinematicSettings",
    "angle_metric_names",
    "compute_angle_metrics",
    "compute_kinematic_events",
    "compute_phases",
]

EVENTS = ("movement_onset", "pushoff_start", "takeoff", "landing", "landing_end")
PHASES = {
    "stance": (None, "movement_onset"),
    "crouch": ("movement_onset", "pushoff_start"),
    "pushoff": ("pushoff_start", "takeoff"),
    "flight": ("takeoff", "landing"),
    "landing": ("landing", "landing_end"),
}
"""Phase name → (start event, end event); ``None`` is the start of the data."""
EDGE_SAMPLES = 4
"""Frames on the moving side of a foot edge used by the hinge fit (the flat side: all)."""


@dataclass(frozen=True)
class KinematicSettings:
    """Knobs of the kinematic event detection (module docstring).

    Attributes
    ----------
    contact_keypoints, body_keypoints : tuple of str
        Keypoints for foot height and body height (those present are used).
    k : float
        Thresholds are k × the measured noise SD …
    min_threshold_mm : float
        … but never below this (noise-free data still needs a threshold).
    lift_mm : float
        Height above the ground that counts as airborne.
    min_flight_s : float
    quiet_s : float
        Quiet-stance window for the body-height level and noise.
    edge_method : "fit" or "threshold"
    landing_window_s : float
    """

    contact_keypoints: tuple[str, ...] = ("toe", "mtp")
    body_keypoints: tuple[str, ...] = ("iliac_crest", "hip", "tail_base", "eye")
    k: float = 5.0
    min_threshold_mm: float = 0.2
    lift_mm: float = 3.0
    min_flight_s: float = 0.02
    quiet_s: float = 0.05
    edge_method: str = "fit"
    landing_window_s: float = 0.1


def _heights(
    poses: xr.Dataset | xr.DataArray, names: tuple[str, ...], up: str
) -> tuple[np.ndarray | None, list[str]]:
    pos = poses["position"] if isinstance(poses, xr.Dataset) else poses
    if "individual" in pos.dims:
        if pos.sizes["individual"] != 1:
            raise InputError(
                f"kinematic events need one animal; the data hold {pos.sizes['individual']} "
                "individuals — select one with .sel(individual=...)"
            )
        pos = pos.isel(individual=0)
    have = [k for k in names if k in pos["keypoint"].values]
    if not have:
        return None, []
    z = pos.sel(space="z", keypoint=have).transpose("time", "keypoint").values
    return (z if up == "+z" else -z), have


def compute_kinematic_events(
    poses: xr.Dataset | xr.DataArray,
    settings: KinematicSettings = KinematicSettings(),
    *,
    up: str = "+z",
) -> tuple[dict[str, float], dict[str, str]]:
    """Movement onset, push-off start, takeoff, landing and landing end from 3D keypoints.

    Parameters
    ----------
    poses : poses3d Dataset or its position DataArray (time, space, keypoint[, individual])
    settings : KinematicSettings
    up : "+z" or "-z"

    Returns
    -------
    events : dict of event name → time (s)
    reasons : dict of event name → why it was not found
    """
    s = settings
    pos = poses["position"] if isinstance(poses, xr.Dataset) else poses
    t = np.asarray(pos["time"].values, dtype=np.float64)
    dt = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    ev: dict[str, float] = {}
    why: dict[str, str] = {}
    foot, _ = _heights(poses, s.contact_keypoints, up)
    if foot is None or t.size < 10:
        msg = (
            f"no foot keypoints: none of {list(s.contact_keypoints)} in the 3D data"
            if foot is None
            else f"only {t.size} frames"
        )
        why.update(takeoff=msg, landing=msg)
    else:
        h = np.nanmin(np.where(np.isfinite(foot), foot, np.nan), axis=1) if foot.size else foot
        _foot_events(t, h, dt, s, ev, why)
    body, _ = _heights(poses, s.body_keypoints, up)
    if body is None:
        msg = f"no body keypoints: none of {list(s.body_keypoints)} in the 3D data"
        why.update(movement_onset=msg, pushoff_start=msg, landing_end=msg)
    else:
        _body_events(t, np.nanmean(body, axis=1), dt, s, ev, why)
    return ev, why


def _foot_events(
    t: np.ndarray, h: np.ndarray, dt: float, s: KinematicSettings, ev: dict, why: dict
) -> None:
    ok = np.isfinite(h)
    if ok.sum() < 10:
        why.update(takeoff="the foot keypoints are missing in most frames", landing="same")
        return
    ground = float(np.median(h[ok]))
    sd = 1.4826 * float(np.median(np.abs(h[ok] - ground)))
    thr = max(s.k * sd, s.min_threshold_mm)
    y = np.where(ok, h - ground, np.nan)
    air = runs(np.nan_to_num(y, nan=0.0) > max(s.lift_mm, thr))
    air = air[(air[:, 1] - air[:, 0]) * dt >= s.min_flight_s]
    if not len(air):
        msg = (
            f"no flight: the foot never rose {max(s.lift_mm, thr):.1f} mm above the ground for "
            f"≥ {1000 * s.min_flight_s:g} ms (no takeoff found)"
        )
        why.update(takeoff=msg, landing=msg)
        return
    a, b = int(air[0, 0]), int(air[0, 1])
    low = np.flatnonzero(np.nan_to_num(y[:a], nan=np.inf) <= thr)
    if not low.size:
        why.update(takeoff="the foot was never on the ground before the flight")
    else:
        i = int(low[-1]) + 1
        t_to = crossing_time(t, y, i, thr)
        if s.edge_method == "fit":
            cap = y.copy()
            cap[i + EDGE_SAMPLES :] = np.nan
            t_to = fit_edge(t, cap, t_to - 2 * dt, side="after", span=5 * dt, resolution=0.05 * dt)
        ev["takeoff"] = t_to
    back = np.flatnonzero(np.nan_to_num(y[b:], nan=np.inf) <= thr)
    if not back.size:
        why["landing"] = "no landing: the foot stays in the air to the end of the data"
        return
    i = b + int(back[0])
    t_l = crossing_time(t, y, i, thr)
    if s.edge_method == "fit":
        cap = y.copy()
        cap[: max(i - EDGE_SAMPLES, 0)] = np.nan
        t_l = fit_edge(t, cap, t_l + 2 * dt, side="before", span=5 * dt, resolution=0.05 * dt)
    ev["landing"] = t_l


def _body_events(
    t: np.ndarray, z: np.ndarray, dt: float, s: KinematicSettings, ev: dict, why: dict
) -> None:
    to = ev.get("takeoff", np.nan)
    stop = int(np.searchsorted(t, to)) if np.isfinite(to) else t.size
    n = max(round(s.quiet_s / dt), 5)
    zz = z[:stop]
    if np.isfinite(zz).sum() < n + 2:
        msg = "too few frames with body keypoints before takeoff"
        why.update(movement_onset=msg, pushoff_start=msg)
    else:
        mean, sd = rolling_mean_sd(np.nan_to_num(zz, nan=np.nanmean(zz)), n)
        # the earliest window about as quiet as the quietest (not the crouch's still bottom)
        i0 = int(np.argmax(sd <= 1.5 * sd.min() + 1e-9))
        level, thr = float(mean[i0]), max(s.k * float(sd[i0]), s.min_threshold_mm)
        start = i0 + n
        dev = np.abs(np.nan_to_num(zz[start:], nan=level) - level) > thr
        j = first_run(dev, max(round(0.01 / dt), 1), initial=True)
        if j is None:
            why["movement_onset"] = "the body never moved away from its quiet-stance height"
        else:
            i_dev = start + j
            sign = np.sign(zz[i_dev] - level)
            back = np.flatnonzero(sign * (zz[start:i_dev] - level) <= 1e-9 * max(abs(level), 1.0))
            i_on = start + int(back[-1]) + 1 if back.size else start
            ev["movement_onset"] = crossing_time(t, z - level, i_on, 0.0)
            if np.isfinite(to):
                zs = moving_average(z, max(round(0.01 / dt), 1))
                seg = np.flatnonzero((t >= ev["movement_onset"]) & (t < to) & np.isfinite(zs))
                if seg.size:
                    ev["pushoff_start"] = float(t[seg[np.argmin(zs[seg])]])
                else:
                    why["pushoff_start"] = "no body keypoints between movement onset and takeoff"
            else:
                why["pushoff_start"] = why.get("takeoff", "no takeoff")
    land = ev.get("landing", np.nan)
    if not np.isfinite(land):
        why["landing_end"] = why.get("landing", "no landing")
        return
    zs = moving_average(z, max(round(0.01 / dt), 1))
    seg = (t >= land) & (t <= land + s.landing_window_s) & np.isfinite(zs)
    if not seg.any():
        why["landing_end"] = "no body keypoints after the landing"
        return
    idx = np.flatnonzero(seg)
    ev["landing_end"] = float(t[idx[np.argmin(zs[idx])]])


def compute_phases(events: Mapping[str, float], start: float) -> dict[str, tuple[float, float]]:
    """Phase windows (s) from events (:data:`PHASES`); NaN ends where an event is missing."""
    out = {}
    for name, (a, b) in PHASES.items():
        t0 = start if a is None else events.get(a, np.nan)
        t1 = events.get(b, np.nan)
        out[name] = (float(t0), float(t1))
    return out


def compute_angle_metrics(
    angles: xr.DataArray, events: Mapping[str, float], reasons: Mapping[str, str]
) -> Metrics:
    """Per-joint angle metrics (degrees) around the jump; see the module docstring.

    ``angles`` in radians (time, joint); ``events`` as from :func:`compute_kinematic_events`
    (or the force). Missing events or all-NaN joints give NaN with the reason.
    """
    m = Metrics()
    deg = 180.0 / np.pi
    if "individual" in angles.dims:
        angles = angles.isel(individual=0)
    vel = compute_angular_velocity(angles)
    t = angles["time"].values
    joint_reasons = dict(angles.attrs.get("reasons", {}) or {})

    def window(a: str, b: str) -> tuple[np.ndarray | None, str]:
        ta, tb = events.get(a, np.nan), events.get(b, np.nan)
        if not (np.isfinite(ta) and np.isfinite(tb)):
            miss = a if not np.isfinite(ta) else b
            return None, f"no {miss.replace('_', ' ')}: {reasons.get(miss, 'not found')}"
        return (t >= ta) & (t <= tb), ""

    span, why_span = window("movement_onset", "landing_end")
    push, why_push = window("pushoff_start", "takeoff")
    land, why_land = window("landing", "landing_end")
    to = events.get("takeoff", np.nan)
    for j in angles["joint"].values:
        a = angles.sel(joint=j).values
        w = vel.sel(joint=j).values
        jr = joint_reasons.get(str(j))
        if jr or not np.isfinite(a).any():
            for name, unit in angle_metric_names(str(j)):
                m.missing(name, unit, jr or f"angle {j} is NaN throughout (keypoints not tracked)")
            continue
        if np.isfinite(to):
            m.set(
                f"{j}_at_takeoff_deg", deg * np.interp(to, t, a, left=np.nan, right=np.nan), "deg"
            )
        else:
            m.missing(f"{j}_at_takeoff_deg", "deg", f"no takeoff: {reasons.get('takeoff', '')}")
        _range_metrics(m, str(j), a, span, why_span, deg)
        _peak(m, f"{j}_peak_ext_velocity_deg_s", w, push, why_push, deg)
        _peak(m, f"{j}_peak_flex_velocity_deg_s", -w, land, why_land, deg)
    return m


def angle_metric_names(j: str) -> list[tuple[str, str]]:
    return [(f"{j}_at_takeoff_deg", "deg"), (f"{j}_min_deg", "deg"), (f"{j}_max_deg", "deg"),
            (f"{j}_range_deg", "deg"), (f"{j}_peak_ext_velocity_deg_s", "deg/s"),
            (f"{j}_peak_flex_velocity_deg_s", "deg/s")]  # fmt: skip


def _range_metrics(
    m: Metrics, j: str, a: np.ndarray, sel: np.ndarray | None, why: str, deg: float
) -> None:
    vals = a[sel] if sel is not None else np.zeros(0)
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        for name in ("min", "max", "range"):
            m.missing(f"{j}_{name}_deg", "deg", why or "no tracked frames in the window")
        return
    m.set(f"{j}_min_deg", deg * vals.min(), "deg")
    m.set(f"{j}_max_deg", deg * vals.max(), "deg")
    m.set(f"{j}_range_deg", deg * (vals.max() - vals.min()), "deg")


def _peak(
    m: Metrics, name: str, w: np.ndarray, sel: np.ndarray | None, why: str, deg: float
) -> None:
    vals = w[sel] if sel is not None else np.zeros(0)
    vals = vals[np.isfinite(vals)]
    if vals.size:
        m.set(name, deg * vals.max(), "deg/s")
    else:
        m.missing(name, "deg/s", why or "no tracked frames in the window")
