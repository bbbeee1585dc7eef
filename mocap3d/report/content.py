"""Gather what a project holds about a trial or session into :mod:`mocap3d.results` containers.

Reads whatever exists — nothing is required but the session folder — so exports and reports
can be built at any stage of the pipeline. The session file (``derived/session.h5``, see
:mod:`mocap3d.io.session`) is read at these groups:

==============================  ==========================================================
group                           content
==============================  ==========================================================
``trials/<t>/poses2d``          poses2d (tracks on the master clock, from sync)
``trials/<t>/poses3d``          poses3d
``trials/<t>/angles``           variable ``angle`` (time, joint[, individual]), rad
``trials/<t>/frame_times``      sync's frame-time map: ``time`` (view, frame) exposure starts
``trials/<t>/emg_envelope``     variable ``envelope`` (time, channel), coord ``unit``
``trials/<t>/events``           one scalar variable per event, s on the master clock
``metrics``                     one variable per metric along dim ``trial``
==============================  ==========================================================

Where ``mocap3d analyze`` ran, its table (``PROJECT/outputs/analysis/metrics.h5``) gives the
metrics and, without an ``events`` group, the jump events; without stored envelopes, they are
computed from the raw EMG with the analysis' chain (:mod:`mocap3d.report.from_analysis`).

Raw DAQ windows come from ``raw/daq.h5`` (raw volts with each channel's scale and offset),
videos from ``raw/videos/<t>/``, the calibration from ``calibration/calibration.toml``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from mocap3d.analysis.inputs import session_windows
from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.io.project import Project, Session
from mocap3d.io.rawdaq import read_raw_daq_info, read_stream
from mocap3d.io.session import list_datasets, read_dataset
from mocap3d.report import from_analysis
from mocap3d.report.from_analysis import envelopes_from_signals, events_from_metrics
from mocap3d.results import SessionInfo, TrialResults
from mocap3d.rig import Rig
from mocap3d.sync.store import frame_maps_from_dataset

log = logging.getLogger(__name__)

GROUPS = {
    "poses2d": "trials/{trial}/poses2d",
    "poses3d": "trials/{trial}/poses3d",
    "angles": "trials/{trial}/angles",
    "frame_times": "trials/{trial}/frame_times",
    "emg_envelope": "trials/{trial}/emg_envelope",
    "events": "trials/{trial}/events",
    "metrics": "metrics",
}


def group_name(kind: str, trial: str = "") -> str:
    """The session-file group of ``kind`` (a key of :data:`GROUPS`) for ``trial``."""
    return GROUPS[kind].format(trial=trial)


def load_calibration(project: Project) -> CameraGroup | None:
    """The project's calibration, or None when it has not been made yet."""
    return (
        CameraGroup.load(project.calibration_path) if project.calibration_path.is_file() else None
    )


SUBJECT_FIELDS = ("species", "sex", "age", "strain", "genotype", "weight")


def subject_table(session: Session) -> dict[str, Any]:
    """The optional ``[subject]`` table of ``session.toml`` (species, sex, age, date_of_birth,
    strain, genotype, weight), empty if absent."""
    doc = tomllib.loads(session.manifest_path.read_text(encoding="utf-8"))
    table = doc.get("subject", {})
    if not isinstance(table, dict):
        raise InputError(f"{session.manifest_path}: [subject] must be a table")
    return table


def session_info(project: Project, session: Session, rig: Rig) -> SessionInfo:
    """Session metadata: subject and group from ``session.toml`` (and its optional ``[subject]``
    table), start time from the raw DAQ file (the master clock's zero)."""
    start = None
    if session.raw_daq_path.is_file():
        created = read_raw_daq_info(session.raw_daq_path).created_utc
        try:
            start = _dt.datetime.fromisoformat(created)
        except ValueError:
            log.warning("%s: created_utc %r is not an ISO time", session.raw_daq_path, created)
    if start is None and session.date:
        start = _dt.datetime.fromisoformat(session.date)
    if start is None:
        start = _dt.datetime.fromtimestamp(session.root.stat().st_mtime, _dt.UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=_dt.UTC)
    subject = subject_table(session)
    extra: dict[str, Any] = {k: str(subject[k]) for k in SUBJECT_FIELDS if k in subject}
    if "date_of_birth" in subject:
        dob = subject["date_of_birth"]
        dob = dob if isinstance(dob, _dt.datetime) else _dt.datetime.fromisoformat(str(dob))
        extra["date_of_birth"] = dob if dob.tzinfo else dob.replace(tzinfo=_dt.UTC)
    if "age" not in extra and "date_of_birth" not in extra:
        log.warning(
            '%s has no subject age: add age = "P12W" (ISO 8601) or date_of_birth under '
            "[subject] — NWB and DANDI require one",
            session.manifest_path,
        )
    return SessionInfo(
        name=session.name,
        start_time=start,
        keypoints=rig.keypoints,
        bones=[(a, b) for a, b in rig.skeleton.bones],
        subject=session.subject,
        group=session.group,
        description=f"{project.name}: {rig.description or rig.name}",
        experiment_description=(
            f"Mice jump from a force platform, filmed by {len(rig.cameras)} hardware-triggered "
            f"cameras at {rig.fps:g} fps; EMG and force recorded by a DAQ on the same clock."
        ),
        notes=session.notes,
        **extra,
    )


def _read(path: Path, groups: set[str], group: str) -> xr.Dataset | None:
    return read_dataset(path, group) if group in groups else None


def session_metrics(project: Project, session: Session) -> pd.DataFrame:
    """Metrics per trial (index ``trial``): the table of ``mocap3d analyze`` if there is one
    (see :mod:`mocap3d.report.from_analysis`), else the session file's ``metrics`` group."""
    table = from_analysis.session_metrics(project, session)
    return table if table is not None else read_metrics(session.derived_path)


def read_metrics(path: Path) -> pd.DataFrame:
    """The session's metrics table (one row per trial), empty if none was written."""
    if group_name("metrics") not in list_datasets(path):
        return pd.DataFrame()
    ds = read_dataset(path, group_name("metrics"))
    df = ds.to_dataframe()
    df.index = df.index.astype(str)
    return df


def _window(trial: str, times: list[np.ndarray], session: Session, rig: Rig) -> tuple[float, float]:
    """The trial's span on the session clock: its poses' and frames' times, else the window
    the analysis used (:func:`~mocap3d.analysis.inputs.session_windows`)."""
    finite = [t[np.isfinite(t)] for t in times]
    finite = [t for t in finite if t.size]
    if finite:
        return float(min(t.min() for t in finite)), float(
            max(t.max() for t in finite) + 1 / rig.fps
        )
    windows, why = session_windows(session, rig, [trial])
    if windows:
        return windows[0].start, windows[0].end
    raise InputError(
        f"session {session.name!r}, trial {trial!r}: "
        + why.get(trial, "no poses, frame times or DAQ trial marker to say when the trial was")
    )


def daq_window(path: Path, rig: Rig, start_s: float, stop_s: float) -> dict[str, xr.DataArray]:
    """Raw volts of every DAQ stream in [start_s, stop_s), with ``scale``/``offset``/``kind``
    /``muscle`` coordinates from the file and the rig."""
    info = read_raw_daq_info(path)
    out = {}
    for name, s in info.streams.items():
        a = max(0, int(np.floor((start_s - s.t0_s) * s.rate_hz)))
        b = min(s.n_samples, int(np.ceil((stop_s - s.t0_s) * s.rate_hz)))
        if b <= a:
            continue
        da = read_stream(path, name, start=a, stop=b, physical=False)
        chans = [info.streams[name].channels[i] for i in range(len(s.channels))]
        kinds, muscles = [], []
        specs = {ch.name: ch for ch in (rig.daq.channels if rig.daq else [])}
        for c in chans:
            spec = specs.get(c.name)
            kinds.append(spec.kind if spec else "analog")
            muscles.append(spec.muscle if spec else "")
        da = da.assign_coords(
            unit=("channel", [c.unit for c in chans]),
            scale=("channel", [c.scale for c in chans]),
            offset=("channel", [c.offset for c in chans]),
            kind=("channel", kinds),
            muscle=("channel", muscles),
        )
        out[name] = da
    return out


def load_trial(
    project: Project,
    session: Session,
    trial: str,
    *,
    rig: Rig | None = None,
    metrics: pd.DataFrame | None = None,
    signals: bool = True,
) -> TrialResults:
    """Everything the project holds about one trial (missing pieces are None or empty)."""
    rig = rig or project.rig()
    path = session.derived_path
    groups = set(list_datasets(path))
    p2 = _read(path, groups, group_name("poses2d", trial))
    p3 = _read(path, groups, group_name("poses3d", trial))
    ang = _read(path, groups, group_name("angles", trial))
    ft = _read(path, groups, group_name("frame_times", trial))
    env = _read(path, groups, group_name("emg_envelope", trial))
    ev = _read(path, groups, group_name("events", trial))
    exposures: dict[str, np.ndarray] = {}
    if ft is not None:
        exposures = {v: m.frame_time for v, m in frame_maps_from_dataset(ft).items()}
    elif p2 is not None and "exposure_time" in p2 and "frame_index" in p2:
        for v in p2["view"].values:
            idx = p2["frame_index"].sel(view=v).values
            t = p2["exposure_time"].sel(view=v).values
            keep = idx >= 0
            order = np.argsort(idx[keep])
            exposures[str(v)] = t[keep][order]
    times = [ds["time"].values for ds in (p2, p3) if ds is not None]
    times += list(exposures.values())
    start, stop = _window(trial, times, session, rig)
    videos = {}
    for cam in rig.camera_names:
        with contextlib.suppress(InputError):
            videos[cam] = session.video_path(trial, cam)
    if metrics is None:
        metrics = session_metrics(project, session)
    row = {k: _scalar(v) for k, v in metrics.loc[trial].items()} if trial in metrics.index else {}
    daq = (
        daq_window(session.raw_daq_path, rig, start, stop)
        if signals and session.raw_daq_path.is_file()
        else {}
    )
    if ev is not None:
        events = {str(k): float(v) for k, v in ev.data_vars.items()}
    else:
        events = events_from_metrics(row)
    envelopes = env["envelope"] if env is not None else envelopes_from_signals(daq)
    return TrialResults(
        name=trial,
        start_s=start,
        stop_s=stop,
        poses2d=p2,
        poses3d=p3,
        angles=ang["angle"] if ang is not None else None,
        signals=daq,
        envelopes=_with_muscles(envelopes, rig) if envelopes is not None else None,
        events=events,
        metrics=row,
        exposures=exposures,
        videos=videos,
        labels=session.labels(trial),
    )


def _with_muscles(env: xr.DataArray, rig: Rig) -> xr.DataArray:
    """Add the rig's ``muscle`` of each channel when the envelopes do not say."""
    if "muscle" in env.coords or rig.daq is None:
        return env
    muscles = {c.name: c.muscle for c in rig.daq.channels}
    return env.assign_coords(
        muscle=("channel", [muscles.get(str(c), "") for c in env["channel"].values])
    )


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
