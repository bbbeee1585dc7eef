"""One trial, all metrics: force, kinematics, joint angles and EMG on the master clock.

:func:`analyze_trial` takes whatever inputs a trial has (any may be missing) and returns one
row of metrics; a metric that cannot be computed is NaN with the reason, and the rest of the
row is still produced. Inputs are plain xarray objects, so it does not matter whether poses
came from triangulation or the simulator, or how the DAQ streams were read.

Events for phases come from the force when it has them (sub-millisecond on a 10 kHz platform)
and from the kinematics otherwise; ``events_source`` says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from mocap3d.analysis._metrics import Metrics
from mocap3d.analysis.angles import compute_joint_angles
from mocap3d.analysis.emg import EmgSettings, OnsetSettings
from mocap3d.analysis.emg_metrics import compute_emg_metrics, emg_metric_names
from mocap3d.analysis.force import ForceSettings
from mocap3d.analysis.jump import (
    EVENTS,
    KinematicSettings,
    angle_metric_names,
    compute_angle_metrics,
    compute_kinematic_events,
)
from mocap3d.analysis.kinetics import FORCE_METRICS, ForceAnalysis, compute_force_metrics
from mocap3d.errors import InputError
from mocap3d.rig import AngleSpec, Rig

__all__ = ["AnalysisSettings", "TrialInputs", "TrialResult", "analyze_trial"]

G = 9.81
KIN_METRICS = {
    **{f"kin_{e}_s": "s" for e in EVENTS},
    "kin_flight_time_ms": "ms",
    "kin_jump_height_flight_mm": "mm",
    "kin_jump_distance_mm": "mm",
}


@dataclass(frozen=True)
class AnalysisSettings:
    """All analysis settings in one place (each part documented in its module)."""

    emg: EmgSettings = field(default_factory=EmgSettings)
    onset: OnsetSettings = field(default_factory=OnsetSettings)
    force: ForceSettings = field(default_factory=ForceSettings)
    kinematics: KinematicSettings = field(default_factory=KinematicSettings)
    emg_baseline_s: float = 0.2


@dataclass
class TrialInputs:
    """What one trial has; any field may be None (then ``missing`` says why).

    Attributes
    ----------
    labels : mapping
        ``session``, ``subject``, ``group``, ``trial`` and any other labels (table columns).
    window : (t0, t1)
        The analysed window on the master clock, s.
    poses3d : Dataset, optional
        poses3d with ``time`` in s on the master clock.
    force, displacement : DataArray (time), optional
        Vertical force (N) and platform displacement (mm, up positive).
    emg : DataArray (time, channel), optional
        Raw EMG, V.
    emg_peak : DataArray (channel), optional
        Session peak of each channel's envelope, V (for normalisation).
    missing : dict
        Input name (``poses3d``, ``force``, ``emg``) → why it is absent.
    """

    labels: dict[str, Any]
    window: tuple[float, float]
    poses3d: xr.Dataset | None = None
    force: xr.DataArray | None = None
    displacement: xr.DataArray | None = None
    emg: xr.DataArray | None = None
    emg_peak: xr.DataArray | None = None
    missing: dict[str, str] = field(default_factory=dict)


@dataclass
class TrialResult:
    """One trial's results: the metrics row, events and the time series behind them."""

    labels: dict[str, Any]
    metrics: Metrics
    events: dict[str, float]
    events_source: str
    force: ForceAnalysis | None = None
    kinematic_events: dict[str, float] = field(default_factory=dict)
    angles: xr.DataArray | None = None
    emg_onsets: xr.Dataset | None = None

    def row(self) -> dict[str, Any]:
        """Labels, metrics, ``events_source``, ``notes`` and ``reasons`` as one flat dict."""
        from mocap3d.analysis._metrics import summarise_reasons

        out: dict[str, Any] = dict(self.labels)
        out.update(self.metrics.values)
        out["events_source"] = self.events_source
        out["notes"] = "; ".join(self.force.notes) if self.force is not None else ""
        out["reasons"] = summarise_reasons(self.metrics.reasons)
        return out


def _missing_all(m: Metrics, names: Mapping[str, str], why: str) -> None:
    for name, unit in names.items():
        m.missing(name, unit, why)


def analyze_trial(
    inputs: TrialInputs,
    *,
    angles: Mapping[str, AngleSpec] | Rig | None = None,
    emg_channels: list[str] | None = None,
    settings: AnalysisSettings = AnalysisSettings(),
    moving_mass_kg: float | None = None,
    up: str = "+z",
) -> TrialResult:
    """Every metric of one trial (see the module docstring).

    Parameters
    ----------
    inputs : TrialInputs
    angles : angle definitions or the rig (its ``angles``); None: no angle metrics
    emg_channels : list of str, optional
        Channels expected in ``inputs.emg`` (so their metrics appear as missing, with the
        reason, when the EMG is absent); default the channels present.
    settings : AnalysisSettings
    moving_mass_kg : float, optional
        Platform moving mass for motion compensation (needs ``inputs.displacement``).
    up : "+z" or "-z"
        World up (rig ``arena.gravity_axis`` "-z" → "+z").
    """
    m = Metrics()
    s = settings
    fa: ForceAnalysis | None = None
    if inputs.force is None:
        _missing_all(m, FORCE_METRICS, inputs.missing.get("force", "no force channel"))
    else:
        fa = compute_force_metrics(
            inputs.force, s.force, displacement=inputs.displacement, moving_mass_kg=moving_mass_kg
        )
        m.update(fa.metrics)
    k_ev: dict[str, float] = {}
    k_why: dict[str, str] = {}
    ang = None
    defs = dict(angles.angles) if isinstance(angles, Rig) else dict(angles or {})
    poses_why = inputs.missing.get("poses3d", "no 3D keypoints for this trial")
    if inputs.poses3d is not None:
        try:
            k_ev, k_why = compute_kinematic_events(inputs.poses3d, s.kinematics, up=up)
            _kinematic_metrics(m, inputs.poses3d, k_ev, k_why, up)
            if defs:
                ang = compute_joint_angles(inputs.poses3d, defs, up="+z" if up == "+z" else "-z")
            poses_why = ""
        except InputError as exc:  # e.g. several animals in one file: this trial only
            poses_why, k_ev, k_why, ang = f"3D keypoints not usable: {exc}", {}, {}, None
    if poses_why:
        _missing_all(m, KIN_METRICS, poses_why)
        for j in defs:
            for name, unit in angle_metric_names(j):
                m.missing(name, unit, poses_why)
    f_ev = dict(fa.events) if fa is not None else {}
    f_why = dict(fa.found.reasons) if fa is not None and fa.found is not None else {}
    events: dict[str, float] = {}
    reasons: dict[str, str] = {}
    sources = set()
    for e in EVENTS:
        if np.isfinite(f_ev.get(e, np.nan)):
            events[e] = f_ev[e]
            sources.add("force")
        elif np.isfinite(k_ev.get(e, np.nan)):
            events[e] = k_ev[e]
            sources.add("kinematics")
        else:
            reasons[e] = (
                "; ".join(
                    r for r in (f_why.get(e) or inputs.missing.get("force"), k_why.get(e)) if r
                )
                or "not found"
            )
    source = " + ".join(sorted(sources)) or "none"
    if ang is not None:
        m.update(compute_angle_metrics(ang, events, reasons))
    onsets = None
    chans = emg_channels or (
        [str(c) for c in inputs.emg["channel"].values] if inputs.emg is not None else []
    )
    if inputs.emg is None:
        why = inputs.missing.get("emg", "no EMG channels")
        for c in chans:
            for name, unit in emg_metric_names(c):
                m.missing(name, unit, why)
    else:
        em, onsets = compute_emg_metrics(
            inputs.emg, events, reasons, settings=s.emg, onset=s.onset,
            session_peak=inputs.emg_peak, baseline_s=s.emg_baseline_s,
        )  # fmt: skip
        m.update(em)
    return TrialResult(dict(inputs.labels), m, events, source, fa, k_ev, ang, onsets)


def _kinematic_metrics(
    m: Metrics, poses: xr.Dataset, ev: dict[str, float], why: dict[str, str], up: str
) -> None:
    for e in EVENTS:
        m.set(f"kin_{e}_s", ev.get(e, np.nan), "s", why.get(e))
    to, land = ev.get("takeoff", np.nan), ev.get("landing", np.nan)
    r = why.get("takeoff") or why.get("landing")
    m.set("kin_flight_time_ms", 1000 * (land - to), "ms", r)
    m.set("kin_jump_height_flight_mm", 1000 * G * (land - to) ** 2 / 8, "mm", r)
    pos = poses["position"]
    if "individual" in pos.dims:
        pos = pos.isel(individual=0)
    foot = [k for k in ("toe", "mtp") if k in pos["keypoint"].values]
    if not foot or not (np.isfinite(to) and np.isfinite(land)):
        m.missing("kin_jump_distance_mm", "mm", r or "no toe or MTP keypoint")
        return
    xy = pos.sel(keypoint=foot[0], space=["x", "y"]).transpose("time", "space")
    t = xy["time"].values
    a = np.array([np.interp(to, t, xy.values[:, i]) for i in range(2)])
    b = np.array([np.interp(land, t, xy.values[:, i]) for i in range(2)])
    m.set("kin_jump_distance_mm", float(np.linalg.norm(b - a)), "mm", "foot not tracked")
