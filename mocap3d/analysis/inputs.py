"""Reading a trial's inputs from files: trial windows, DAQ channels by kind, 3D poses.

Trial windows (s on the master clock) come, in order of preference, from synchronisation's
frame maps in the session file (``trials/<t>/frame_times``), from ``trial`` events in the raw
DAQ file (start) with the trial's length from its camera frame logs, or are given explicitly.
The analysed window starts ``pre_s`` earlier (quiet stance for baselines), never before the
previous trial's end.

Poses (mm, world frame) come from the session file (``trials/<t>/poses3d``, triangulation's
output); when their time is frame-based (``time_reference = "frame"``, not yet synchronised)
frame k is placed at mid-exposure ``start + k/fps + exposure/2``. For simulated projects the
simulator's ground truth can stand in (``poses="truth"``, optionally with noise).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr

from mocap3d.analysis.trial import TrialInputs
from mocap3d.errors import InputError
from mocap3d.io.project import Session
from mocap3d.io.rawdaq import RawDaqInfo, read_raw_daq_info, read_stream
from mocap3d.rig import ChannelSpec, Rig

log = logging.getLogger(__name__)

PosesSource = Literal["auto", "derived", "truth", "none"]


@dataclass(frozen=True)
class TrialWindow:
    """Where a trial is on the master clock: camera frames from ``start`` to ``end`` (s)."""

    name: str
    start: float
    end: float
    source: str  # "sync", "daq events", "given"


def _channels(rig: Rig, kind: str) -> list[ChannelSpec]:
    return [c for c in (rig.daq.channels if rig.daq else []) if c.kind == kind]


def exposure_s(rig: Rig) -> float:
    cam = rig.cameras[0]
    return (cam.exposure_us or 0.5e6 / cam.fps) * 1e-6


def session_windows(
    session: Session, rig: Rig, trials: Sequence[str] | None = None
) -> tuple[list[TrialWindow], dict[str, str]]:
    """Trial windows of a session (module docstring) and, per trial without one, why;
    ``trials``: only these (default: all of the session's)."""
    from mocap3d.io.frames import read_frame_log
    from mocap3d.io.session import list_datasets, read_dataset

    trials = list(trials) if trials is not None else session.trials()
    found: dict[str, TrialWindow] = {}
    groups = set(list_datasets(session.derived_path))
    for t in trials:
        g = f"trials/{t}/frame_times"
        if g in groups:
            ft = read_dataset(session.derived_path, g)["time"].values
            if np.isfinite(ft).any():
                found[t] = TrialWindow(
                    t, float(np.nanmin(ft)), float(np.nanmax(ft)) + 1 / rig.fps, "sync"
                )
    why: dict[str, str] = {}
    rest = [t for t in trials if t not in found]
    if rest and session.raw_daq_path.is_file():
        info = read_raw_daq_info(session.raw_daq_path)
        starts = _trial_events(info)
        ordered = sorted(starts.values())
        for t in rest:
            if t not in starts:
                continue
            start = starts[t]
            n = 0
            for log_path in sorted(session.trial_dir(t).glob("*.frames.csv")):
                c = read_frame_log(log_path).counter
                n = max(n, int(c[-1] - c[0] + 1) if c.size else 0)
            later = [s for s in ordered if s > start]
            end = start + n / rig.fps if n else (later[0] if later else _file_end(info))
            found[t] = TrialWindow(t, start, end, "daq events")
    for t in trials:
        if t not in found:
            why[t] = (
                f"no timing for trial {t!r}: no frame map in {session.derived_path.name} and no "
                "'trial' event in the raw DAQ file — run `mocap3d sync` first"
            )
    return [found[t] for t in trials if t in found], why


def _trial_events(info: RawDaqInfo) -> dict[str, float]:
    out = {}
    master = info.master
    for e in info.events:
        if bytes(e["kind"]).decode() == "trial":
            out[bytes(e["message"]).decode()] = master.t0_s + int(e["sample"]) / master.rate_hz
    return out


def _file_end(info: RawDaqInfo) -> float:
    m = info.master
    return m.t0_s + m.n_samples / m.rate_hz


def analysis_windows(windows: list[TrialWindow], *, pre_s: float) -> dict[str, tuple[float, float]]:
    """``[start − pre_s, end]`` per trial, not reaching back into the previous trial."""
    out = {}
    prev_end = -np.inf
    for w in sorted(windows, key=lambda w: w.start):
        out[w.name] = (max(w.start - pre_s, prev_end, 0.0), w.end)
        prev_end = w.end
    return out


def _read(
    daq: Path, info: RawDaqInfo, channels: list[str], window: tuple[float, float]
) -> xr.DataArray:
    stream = info.stream_of(channels[0])
    others = [c for c in channels if c not in stream.channel_names]
    if others:
        raise InputError(
            f"{daq}: channels {others} are not in stream {stream.name!r} with {channels[0]!r}"
        )
    i0 = max(int(np.floor((window[0] - stream.t0_s) * stream.rate_hz)), 0)
    i1 = min(int(np.ceil((window[1] - stream.t0_s) * stream.rate_hz)), stream.n_samples)
    if i1 - i0 < 10:
        raise InputError(
            f"{daq}: stream {stream.name!r} has no samples in {window[0]:.3f}–{window[1]:.3f} s "
            f"(it covers {stream.t0_s:.3f}–{stream.t0_s + stream.n_samples / stream.rate_hz:.3f} s)"
        )
    return read_stream(daq, stream.name, channels=channels, start=i0, stop=i1)


def read_daq_inputs(
    daq: Path, rig: Rig, window: tuple[float, float], info: RawDaqInfo | None = None
) -> tuple[dict[str, xr.DataArray], dict[str, str]]:
    """``force`` (N), ``displacement`` (mm) and ``emg`` (V, time × channel) over a window,
    by the rig's channel kinds; and why any of them is missing."""
    info = info or read_raw_daq_info(daq)
    have = {c for s in info.streams.values() for c in s.channel_names}
    out: dict[str, xr.DataArray] = {}
    why: dict[str, str] = {}
    for key, kind in (("force", "force"), ("displacement", "displacement"), ("emg", "emg")):
        chans = _channels(rig, kind)
        if not chans:
            why[key] = f"the rig has no {kind} channel"
            continue
        names = [c.name for c in chans] if kind == "emg" else [chans[0].name]
        absent = [n for n in names if n not in have]
        if absent:
            why[key] = f"{daq.name} has no channel(s) {absent}"
            names = [n for n in names if n in have]
            if not names:
                continue
        try:
            da = _read(daq, info, names, window)
        except InputError as exc:
            why[key] = str(exc)
            continue
        out[key] = (
            da if kind == "emg" else da.sel(channel=names[0], drop=True).assign_attrs(da.attrs)
        )
    return out, why


def read_poses(
    session: Session,
    rig: Rig,
    trial: str,
    window: TrialWindow,
    *,
    source: PosesSource = "auto",
    noise_mm: float = 0.0,
    seed: int = 0,
) -> tuple[xr.Dataset | None, str]:
    """A trial's poses3d on the master clock, or None and why."""
    from mocap3d.io.session import list_datasets, read_dataset

    group = f"trials/{trial}/poses3d"
    if source in ("auto", "derived"):
        if group in list_datasets(session.derived_path):
            ds = read_dataset(session.derived_path, group)
            if ds.attrs.get("time_reference", "frame") == "frame":
                frame = np.round(ds["time"].values * rig.fps)
                ds = ds.assign_coords(time=window.start + frame / rig.fps + exposure_s(rig) / 2)
                ds.attrs["time_reference"] = "session"
            return ds, ""
        if source == "derived":
            return None, f"no {group} in {session.derived_path}: run `mocap3d triangulate` first"
    if source == "truth":
        path = session.root / "truth" / "truth.h5"
        if not path.is_file():
            return None, f"no simulator truth {path} (poses='truth' is for simulated projects)"
        from mocap3d.simulate.truth import read_truth

        truth = read_truth(path)
        if trial not in truth.trials:
            return None, f"trial {trial!r} not in {path}"
        ds = truth.trials[trial].poses3d()
        if noise_mm > 0:
            rng = np.random.default_rng([seed, zlib.crc32(f"{session.name}/{trial}".encode())])
            pos = ds["position"]
            ds["position"] = pos + noise_mm * rng.standard_normal(pos.shape)
        ds.attrs["pose_noise_mm"] = noise_mm
        return ds, ""
    if source == "none":
        return None, "poses not requested (--poses none)"
    return None, f"no 3D keypoints ({group} not in the session file): run triangulation"


def load_session(
    session: Session,
    rig: Rig,
    *,
    pre_s: float = 0.3,
    poses: PosesSource = "auto",
    pose_noise_mm: float = 0.0,
    seed: int = 0,
) -> list[TrialInputs]:
    """Every trial of a session as :class:`TrialInputs` (trials without timing included, with
    everything missing and the reason)."""
    windows, no_timing = session_windows(session, rig)
    spans = analysis_windows(windows, pre_s=pre_s)
    info = read_raw_daq_info(session.raw_daq_path) if session.raw_daq_path.is_file() else None
    out = []
    for w in windows:
        labels = {**session.labels(w.name), "trial": w.name, "trial_start_s": w.start}
        daq: dict[str, xr.DataArray]
        if info is None:
            daq, why = {}, {k: f"no raw DAQ file {session.raw_daq_path}" for k in ("force", "emg")}
        else:
            daq, why = read_daq_inputs(session.raw_daq_path, rig, spans[w.name], info)
        ds, pwhy = read_poses(
            session, rig, w.name, w, source=poses, noise_mm=pose_noise_mm, seed=seed
        )
        if pwhy:
            why["poses3d"] = pwhy
        out.append(
            TrialInputs(
                labels,
                spans[w.name],
                ds,
                daq.get("force"),
                daq.get("displacement"),
                daq.get("emg"),
                missing=why,
            )
        )
    for t, reason in no_timing.items():
        labels = {**session.labels(t), "trial": t, "trial_start_s": np.nan}
        out.append(
            TrialInputs(
                labels, (np.nan, np.nan), missing={k: reason for k in ("force", "emg", "poses3d")}
            )
        )
    return out
