"""Analyse a whole project (or one recording): metrics table, group comparison, figures.

:func:`analyze_project` reads every session's trials (:mod:`mocap3d.analysis.inputs`),
normalises EMG to each session's peak, computes every trial's metrics
(:func:`~mocap3d.analysis.trial.analyze_trial`), and writes to ``OUT`` (default
``PROJECT/outputs/analysis``)::

    metrics.csv, metrics.units.csv, metrics.h5   one row per trial, every metric, reasons
    reasons.csv                                  trial × missing metric × why (long format)
    summary.csv                                  per-group n, mean, SD, SEM, median
    comparisons.csv                              per metric: test, p, Holm p, Hedges' g [CI]
    settings.json                                every setting, with the EMG methods sentence
    figures/trial_<session>_<trial>.png, figures/group_<metric>.png, figures/effect_sizes.png

Joint angles and force kinetics of each trial also go into the session file
(``trials/<t>/angles`` in radians, ``trials/<t>/kinetics``) unless ``store=False``.
:func:`analyze_recording` does the same for one DAQ file with explicit inputs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from mocap3d.analysis.emg import compute_emg_envelope, sentence
from mocap3d.analysis.groups import (
    compare_all,
    metrics_table,
    summarise_groups,
    write_metrics_table,
)
from mocap3d.analysis.inputs import PosesSource, load_session
from mocap3d.analysis.trial import AnalysisSettings, TrialInputs, TrialResult, analyze_trial
from mocap3d.errors import InputError
from mocap3d.io.atomic import write_text_atomic
from mocap3d.io.project import Project, open_project
from mocap3d.progress import Progress, report
from mocap3d.rig import Rig

log = logging.getLogger(__name__)

__all__ = [
    "KEY_METRICS",
    "ProjectAnalysis",
    "analyze_inputs",
    "analyze_project",
    "analyze_recording",
    "write_outputs",
]

KEY_METRICS = (
    "jump_height_impulse_mm",
    "jump_height_flight_mm",
    "takeoff_velocity_m_s",
    "peak_force_bw",
    "peak_power_w_kg",
    "pushoff_duration_ms",
)
"""Metrics that get a group figure (plus the first EMG channel's latency to takeoff)."""


@dataclass
class ProjectAnalysis:
    """Results of :func:`analyze_project` / :func:`analyze_recording`."""

    table: pd.DataFrame
    comparisons: pd.DataFrame
    summary: pd.DataFrame
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    results: list[TrialResult] = field(default_factory=list)
    comparison_note: str = ""


def _session_peak(inputs: list[TrialInputs], settings: AnalysisSettings) -> xr.DataArray | None:
    peaks = [
        compute_emg_envelope(i.emg, settings.emg).max("time") for i in inputs if i.emg is not None
    ]
    return xr.concat(peaks, "trial").max("trial") if peaks else None


def analyze_inputs(
    inputs: Sequence[TrialInputs],
    rig: Rig,
    *,
    settings: AnalysisSettings = AnalysisSettings(),
    progress: Progress | None = None,
    offset: int = 0,
    total: int = 0,
) -> list[TrialResult]:
    """Analyse trials of one session (EMG normalised to their common peak)."""
    peak = _session_peak(list(inputs), settings)
    mass = rig.arena.platform_moving_mass_g
    emg = [c.name for c in rig.daq.channels if c.kind == "emg"] if rig.daq else []
    up = "+z" if rig.arena.gravity_axis == "-z" else "-z"
    out = []
    for k, inp in enumerate(inputs):
        if inp.emg is not None:
            inp.emg_peak = peak
        out.append(
            analyze_trial(
                inp, angles=rig, emg_channels=emg, settings=settings,
                moving_mass_kg=mass / 1000.0 if mass else None, up=up,
            )
        )  # fmt: skip
        report(progress, offset + k + 1, total or len(inputs), "analyse trials")
    return out


def analyze_project(
    project: Project | str | Path,
    *,
    settings: AnalysisSettings = AnalysisSettings(),
    poses: PosesSource = "auto",
    pose_noise_mm: float = 0.0,
    seed: int = 0,
    out_dir: str | Path | None = None,
    compare: dict[str, Any] | None = None,
    figures: bool = True,
    store: bool = True,
    progress: Progress | None = None,
) -> ProjectAnalysis:
    """Analyse every trial of every session and compare groups (module docstring).

    Parameters
    ----------
    project : Project or path
    settings : AnalysisSettings
    poses : "auto", "derived", "truth" or "none"
        Where 3D keypoints come from (:func:`mocap3d.analysis.inputs.read_poses`).
    pose_noise_mm : float
        Gaussian noise added to truth poses (simulated projects).
    out_dir : path, optional
        Default ``PROJECT/outputs/analysis``.
    compare : dict, optional
        Keyword arguments of :func:`mocap3d.analysis.groups.compare_groups` (``by``,
        ``groups``, ``test``, ``nesting``, ``alpha``).
    figures, store : bool
        Draw figures; write angles and kinetics into the session files.
    """
    proj = project if isinstance(project, Project) else open_project(project)
    rig = proj.rig()
    sessions = proj.sessions()
    if not sessions:
        raise InputError(f"project {proj.root} has no sessions (sessions/<name>/session.toml)")
    out = Path(out_dir) if out_dir is not None else proj.outputs_dir / "analysis"
    per_session = []
    for i, session in enumerate(sessions):
        report(progress, i, len(sessions), "read sessions")
        per_session.append(
            (
                session,
                load_session(session, rig, poses=poses, pose_noise_mm=pose_noise_mm, seed=seed),
            )
        )
    report(progress, len(sessions), len(sessions), "read sessions")
    total = sum(len(x) for _, x in per_session)
    results: list[TrialResult] = []
    all_inputs: list[TrialInputs] = []
    for session, inputs in per_session:
        res = analyze_inputs(
            inputs, rig, settings=settings, progress=progress, offset=len(results), total=total
        )
        if store:
            _store(session.derived_path, res)
        results += res
        all_inputs += inputs
    return write_outputs(
        results,
        all_inputs,
        out,
        settings=settings,
        compare=compare,
        figures=figures,
        progress=progress,
    )


def _store(path: Path, results: list[TrialResult]) -> None:
    from mocap3d.io.session import write_dataset

    for r in results:
        trial = r.labels.get("trial")
        if r.angles is not None:
            write_dataset(path, f"trials/{trial}/angles", r.angles.to_dataset())
        if r.force is not None and r.force.kinetics is not None:
            write_dataset(path, f"trials/{trial}/kinetics", r.force.kinetics)


def write_outputs(
    results: list[TrialResult],
    inputs: list[TrialInputs],
    out: Path,
    *,
    settings: AnalysisSettings = AnalysisSettings(),
    compare: dict[str, Any] | None = None,
    figures: bool = True,
    progress: Progress | None = None,
) -> ProjectAnalysis:
    """Write the table, reasons, group summary, comparisons, settings and figures."""
    units: dict[str, str] = {}
    for r in results:
        units.update(r.metrics.units)
    table = metrics_table([r.row() for r in results], units)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "metrics.csv", out / "metrics.h5"]
    write_metrics_table(table, files[0], files[1])
    reasons = pd.DataFrame(
        [{**{k: r.labels.get(k, "") for k in ("session", "trial")}, "metric": m, "reason": why}
         for r in results for m, why in r.metrics.reasons.items()],
        columns=["session", "trial", "metric", "reason"],
    )  # fmt: skip
    reasons.to_csv(out / "reasons.csv", index=False)
    files.append(out / "reasons.csv")
    kw = dict(compare or {})
    by = kw.get("by", "group")
    comparisons, summary, note = pd.DataFrame(), pd.DataFrame(), ""
    if by in table and table[by].astype(str).replace("", np.nan).nunique() >= 2:
        summary = summarise_groups(table, by=by)
        try:
            comparisons = compare_all(table, **kw)
        except InputError as exc:
            note = str(exc)
    else:
        note = f"no comparison: fewer than two values in column {by!r}"
    for name, df in (("summary.csv", summary), ("comparisons.csv", comparisons)):
        df.to_csv(out / name, index=False)
        files.append(out / name)
    rate = 20_000.0
    for i in inputs:
        if i.emg is not None:
            rate = float(i.emg.attrs.get("rate_hz", rate))
            break
    doc = {
        k: asdict(v) if hasattr(v, "__dataclass_fields__") else v
        for k, v in asdict(settings).items()
    }
    doc["emg_methods"] = sentence(settings.emg, rate, settings.onset)
    doc["comparison"] = {**kw, "note": note}
    write_text_atomic(out / "settings.json", json.dumps(doc, indent=1, default=str))
    files.append(out / "settings.json")
    if figures:
        files += _figures(results, inputs, table, comparisons, out / "figures", progress)
    return ProjectAnalysis(table, comparisons, summary, out, files, results, note)


def _figures(
    results: list[TrialResult], inputs: list[TrialInputs], table: pd.DataFrame,
    comparisons: pd.DataFrame, folder: Path, progress: Progress | None,
) -> list[Path]:  # fmt: skip
    from mocap3d.analysis.figures import plot_effect_sizes, plot_group_comparison, plot_trial
    from mocap3d.analysis.groups import Comparison

    files = []
    for k, (r, i) in enumerate(zip(results, inputs, strict=True)):
        if i.force is None and i.emg is None and r.angles is None:
            continue
        name = f"trial_{r.labels.get('session', '')}_{r.labels.get('trial', k)}.png"
        files.append(plot_trial(r, i, folder / name))
        report(progress, k + 1, len(results), "figures")
    if len(comparisons):
        emg_latency = [c for c in comparisons["metric"] if c.endswith("_latency_takeoff_ms")][:1]
        for metric in (*KEY_METRICS, *emg_latency):
            row = comparisons[comparisons["metric"] == metric]
            if len(row):
                fields = Comparison.__dataclass_fields__
                c = Comparison(**{k: v for k, v in row.iloc[0].items() if k in fields})
                files.append(plot_group_comparison(table, c, folder / f"group_{metric}.png"))
        if np.isfinite(comparisons["hedges_g"].to_numpy(dtype=float)).any():
            files.append(plot_effect_sizes(comparisons, folder / "effect_sizes.png"))
    return files


def analyze_recording(
    daq: str | Path,
    rig: Rig | str | Path,
    *,
    points3d: str | Path | None = None,
    points_group: str = "poses3d",
    windows: dict[str, tuple[float, float]] | None = None,
    labels: dict[str, str] | None = None,
    pre_s: float = 0.3,
    settings: AnalysisSettings = AnalysisSettings(),
    out_dir: str | Path | None = None,
    compare: dict[str, Any] | None = None,
    figures: bool = True,
    progress: Progress | None = None,
) -> ProjectAnalysis:
    """Analyse one raw DAQ file (and optionally one trial's 3D points) with explicit inputs.

    Parameters
    ----------
    daq : path
        Raw DAQ file (mocap3d.io.rawdaq).
    rig : Rig or path
        Tells which channels are EMG, force and displacement, and the angle definitions.
    points3d : path, optional
        Session-store HDF5 holding a poses3d group ``points_group`` (triangulation output).
        Frame-based times are placed at ``window start + k/fps + exposure/2``.
    windows : mapping trial → (start, end), optional
        Trial windows (s, master clock) where the cameras ran; default the file's ``trial``
        events, else the whole file as one trial.
    labels : mapping, optional
        Labels for every row (``group``, ``subject`` …).
    """
    from mocap3d.analysis.inputs import TrialWindow, analysis_windows, read_daq_inputs
    from mocap3d.io.rawdaq import read_raw_daq_info
    from mocap3d.io.session import read_dataset
    from mocap3d.rig import load_rig

    daq = Path(daq)
    rig_obj = rig if isinstance(rig, Rig) else load_rig(rig)
    info = read_raw_daq_info(daq)
    if windows:
        wins = [TrialWindow(k, float(a), float(b), "given") for k, (a, b) in windows.items()]
    else:
        from mocap3d.analysis.inputs import _file_end, _trial_events

        starts = sorted(_trial_events(info).items(), key=lambda kv: kv[1])
        end = _file_end(info)
        if starts:
            bounds = [s for _, s in starts[1:]] + [end]
            wins = [
                TrialWindow(k, s, e, "daq events") for (k, s), e in zip(starts, bounds, strict=True)
            ]
        else:
            wins = [TrialWindow("trial", info.master.t0_s, end, "whole file")]
    if points3d is not None and len(wins) != 1:
        raise InputError(
            f"--points3d holds one trial but {daq.name} has {len(wins)} trials "
            f"({[w.name for w in wins]}); give the trial's window with --window "
            "[NAME=]START:END (s on the DAQ clock, e.g. trial_001=12.5:13.5)"
        )
    spans = analysis_windows(wins, pre_s=pre_s)
    inputs = []
    for w in wins:
        data, why = read_daq_inputs(daq, rig_obj, spans[w.name], info)
        poses = None
        if points3d is None:
            why["poses3d"] = "no --points3d given"
        else:
            from mocap3d.analysis.inputs import exposure_s

            poses = read_dataset(points3d, points_group)
            if poses.attrs.get("time_reference", "frame") == "frame":
                k = np.round(poses["time"].values * rig_obj.fps)
                poses = poses.assign_coords(
                    time=w.start + k / rig_obj.fps + exposure_s(rig_obj) / 2
                )
        lab = {
            "session": daq.parent.name,
            **(labels or {}),
            "trial": w.name,
            "trial_start_s": w.start,
        }
        inputs.append(
            TrialInputs(lab, spans[w.name], poses, data.get("force"), data.get("displacement"),
                        data.get("emg"), missing=why)
        )  # fmt: skip
    results = analyze_inputs(inputs, rig_obj, settings=settings, progress=progress)
    out = Path(out_dir) if out_dir is not None else daq.parent / "analysis"
    return write_outputs(
        results, inputs, out, settings=settings, compare=compare, figures=figures, progress=progress
    )
