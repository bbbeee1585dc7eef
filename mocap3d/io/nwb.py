"""NWB export with ndx-pose 0.4: cameras, 2D and 3D poses, angles, EMG and force, trials.

One file holds one trial or a whole session (its trials concatenated on the session clock)::

    general/devices/<camera>             CalibratedCamera: K, R, t (world → camera, mm),
                                         distortion (OpenCV order); size and lens model in
                                         its description
    general/subject                      subject id, species, group
    acquisition/<channel>                TimeSeries per DAQ channel (EMG, force, displacement):
                                         the raw amplifier volts as recorded (float32),
                                         ``conversion`` = the rig's scale, ``offset``, so
                                         data · conversion + offset is in ``unit``
    acquisition/video_<camera>           ImageSeries: the raw videos (relative external files),
                                         timestamps = exposure start of every frame
    intervals/camera_exposures           every frame's exposure window per camera
    intervals/trials                     one row per trial: window, ``<event>_time`` columns,
                                         metrics (names carry units: ``jump_height_mm``)
    processing/behavior/Skeletons        the rig's skeleton (one per individual)
    processing/behavior/MultiCameraPoseEstimation[_<individual>]
        <keypoint>                       3D PoseEstimationSeries (n, 3), millimetres
        <camera>/<keypoint>              2D PoseEstimation per camera (n, 2) px + confidence
    processing/behavior/reprojection_error[_<ind>], n_views[_<ind>]   (n, keypoint)
    processing/behavior/angle_<joint>[_<ind>]                         radians
    processing/ecephys/envelope_<channel>   EMG envelopes

Raw volts with ``conversion`` rather than physical floats: the stored numbers are exactly the
samples the DAQ wrote (bit-for-bit, half the size of float64), and NWB's own rule turns them
into physical units; nothing is lost either way, and re-scaling a mis-entered gain never needs
a re-export. Signals given already in physical units are stored with conversion 1.

The file is written to a temporary file beside ``path`` and renamed when complete. pynwb and
ndx-pose are imported inside the functions. Read back with :func:`mocap3d.io.nwb_read.read_nwb`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from mocap3d._version import __version__
from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.io.atomic import atomic_path
from mocap3d.io.nwb_poses import add_poses, compress, tag, timing
from mocap3d.results import SessionInfo, TrialResults

UNIT_NAMES = {"V": "volts", "mV": "millivolts", "N": "newtons", "mm": "millimeters", "s": "seconds"}
SIGNAL_KINDS = ("emg", "force", "displacement", "analog")
BEHAVIOR = "behavior"
EMG_MODULE = "ecephys"  # EMG is extracellular electrophysiology of muscle


def nwb_unit(unit: str) -> str:
    """The NWB spelling of a unit (``V`` → ``volts``); unknown units pass through."""
    return UNIT_NAMES.get(unit, unit)


def _concat(items: Sequence[Any], what: str) -> Any:
    items = [x for x in items if x is not None]
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    try:
        out = xr.concat(items, dim="time", data_vars="all", coords="minimal", compat="override")
    except ValueError as exc:
        raise InputError(f"cannot put the trials' {what} on one time axis: {exc}") from None
    t = out["time"].values
    if np.any(np.diff(t) <= 0):
        raise InputError(f"the trials' {what} overlap in time; give trials in time order")
    return out


def _add_cameras(nwb: Any, cameras: CameraGroup | None, views: Sequence[str]) -> dict[str, Any]:
    from ndx_pose import CalibratedCamera
    from pynwb.device import Device

    devices: dict[str, Any] = {}
    for i, cam in enumerate(cameras or ()):
        w, h = cam.size
        dev = CalibratedCamera(
            name=cam.name,
            description=(
                f"camera {cam.name} (view {i + 1} of {len(cameras or ())}): {w}x{h} px, "
                f"{cam.model} lens; OpenCV conventions: "
                "X_cam = R X_world + t (mm), pixel origin at the centre of the top-left pixel; "
                "distortion (k1 k2 p1 p2 k3 k4 k5 k6) or fisheye (k1 k2 k3 k4)"
            ),
            intrinsic_matrix=np.asarray(cam.K, dtype=np.float64),
            rotation_matrix=np.asarray(cam.R, dtype=np.float64),
            translation_vector=np.asarray(cam.t, dtype=np.float64),
            distortion_coefficients=np.asarray(cam.dist, dtype=np.float64),
        )
        nwb.add_device(dev)
        devices[cam.name] = dev
    for i, view in enumerate(views):
        if view not in devices:
            dev = Device(
                name=view,
                description=f"camera {view} (view {i + 1} of {len(views)}): no calibration given",
            )
            nwb.add_device(dev)
            devices[view] = dev
    return devices


def _add_signals(
    nwb: Any, signals: Mapping[str, xr.DataArray], kinds: Sequence[str] | None
) -> None:
    from pynwb import TimeSeries

    for stream, sig in signals.items():
        first: Any = None
        for i, ch in enumerate(str(c) for c in sig["channel"].values):
            one = sig.sel(channel=ch)
            kind = str(one["kind"].values) if "kind" in one.coords else "analog"
            if kinds is not None and kind not in kinds:
                continue
            raw = "scale" in one.coords
            muscle = str(one["muscle"].values) if "muscle" in one.coords else ""
            what = f"{kind} channel {ch}" + (f" ({muscle})" if muscle else "")
            how = (
                "raw amplifier output in volts as recorded; physical value = data · conversion "
                "+ offset"
                if raw
                else "physical values"
            )
            ts = TimeSeries(
                name=ch,
                data=compress(np.asarray(one.values, dtype=np.float32 if raw else np.float64)),
                unit=nwb_unit(str(one["unit"].values)),
                conversion=float(one["scale"].values) if raw else 1.0,
                offset=float(one["offset"].values) if raw else 0.0,
                description=f"{what}, DAQ stream {stream}: {how}",
                comments=tag(stream=stream, index=i, kind=kind, muscle=muscle, raw=raw),
                continuity="continuous",
                **timing(sig["time"].values, first, sig.attrs.get("rate_hz")),
            )
            nwb.add_acquisition(ts)
            if first is None:
                first = ts


def _add_exposures(
    nwb: Any,
    trials: Sequence[TrialResults],
    devices: Mapping[str, Any],
    exposure_s: Mapping[str, float],
    nwb_dir: Path,
) -> None:
    from pynwb.image import ImageSeries

    cams = sorted({c for t in trials for c in t.exposures}, key=lambda c: list(devices).index(c))
    rows = []
    for cam in cams:
        starts = [t.exposures[cam] for t in trials if cam in t.exposures]
        times = np.concatenate(starts)
        frames = np.concatenate([np.arange(s.size) for s in starts])
        if cam in exposure_s:
            rows += [
                (a, a + exposure_s[cam], cam, int(k)) for a, k in zip(times, frames, strict=False)
            ]
        with_video = [t for t in trials if cam in t.exposures and cam in t.videos]
        if len(with_video) != len(starts):
            continue
        files = [os.path.relpath(t.videos[cam], nwb_dir) for t in with_video]
        counts = [t.exposures[cam].size for t in with_video]
        nwb.add_acquisition(
            ImageSeries(
                name=f"video_{cam}",
                description=f"raw video of camera {cam}; timestamps: exposure start of each frame",
                unit="n.a.",
                format="external",
                external_file=files,
                starting_frame=[int(s) for s in np.cumsum([0, *counts[:-1]])],
                device=devices[cam],
                num_samples=int(times.size),
                **timing(times),
            )
        )
    if rows:
        table = nwb.create_time_intervals(
            name="camera_exposures", description="exposure window of every video frame"
        )
        table.add_column(name="camera", description="camera name")
        table.add_column(name="frame", description="frame index in the trial's video")
        for a, b, cam, k in sorted(rows):
            table.add_row(start_time=float(a), stop_time=float(b), camera=cam, frame=k)


def _add_trials(nwb: Any, trials: Sequence[TrialResults]) -> None:
    events = list(dict.fromkeys(e for t in trials for e in t.events))
    metrics = list(dict.fromkeys(m for t in trials for m in t.metrics))
    nwb.add_trial_column(name="trial_name", description="trial name (folder of its videos)")
    nwb.add_trial_column(name="group", description="experimental group of the trial")
    for e in events:
        nwb.add_trial_column(name=f"{e}_time", description=f"{e} event, s on the session clock")
    numeric = {
        m: all(isinstance(t.metrics.get(m, np.nan), int | float | np.number) for t in trials)
        for m in metrics
    }
    for m in metrics:
        nwb.add_trial_column(name=m, description=f"metric {m} (the unit ends its name)")
    for t in trials:
        row: dict[str, Any] = {
            "start_time": float(t.start_s),
            "stop_time": float(t.stop_s),
            "trial_name": t.name,
            "group": str(t.labels.get("group", "")),
        }
        row.update({f"{e}_time": float(t.events.get(e, np.nan)) for e in events})
        for m in metrics:
            v = t.metrics.get(m, np.nan)
            row[m] = float(v) if numeric[m] else str(v)
        nwb.add_trial(**row)


def write_nwb(
    path: str | Path,
    trials: Sequence[TrialResults],
    *,
    session: SessionInfo,
    cameras: CameraGroup | None = None,
    session_signals: Mapping[str, xr.DataArray] | None = None,
    exposure_s: Mapping[str, float] | None = None,
    signal_kinds: Sequence[str] | None = SIGNAL_KINDS,
) -> Path:
    """Write trials of one session to an NWB file (see the module docstring for the layout).

    Parameters
    ----------
    path : path-like
        The ``.nwb`` file; replaced atomically if it exists.
    trials : sequence of TrialResults
        One (a trial file) or several (a session file), in time order, not overlapping.
        Their poses, angles and signals are concatenated along time.
    session : SessionInfo
        Subject, start time, skeleton.
    cameras : CameraGroup, optional
        Calibration; one ``CalibratedCamera`` each. Views without one get a plain ``Device``.
    session_signals : mapping of stream to DataArray (time, channel), optional
        Whole-session DAQ streams for ``acquisition`` instead of the trials' windows.
    exposure_s : mapping of camera to seconds, optional
        Exposure duration per camera (the rig's ``exposure_us``), for ``camera_exposures``.
    signal_kinds : sequence of str or None
        Channel kinds (coordinate ``kind``) to store; None stores every channel (TTLs too).

    Returns
    -------
    Path
        ``path``.
    """
    from pynwb import NWBHDF5IO, NWBFile

    path = Path(path)
    trials = list(trials)
    if not trials:
        raise InputError("write_nwb needs at least one trial")
    names = [t.name for t in trials]
    if len(set(names)) != len(names):
        raise InputError(f"trial names repeat: {names}")
    if path.suffix != ".nwb":
        raise InputError(f"NWB files end in .nwb, found {path.name!r}")
    identity = f"mocap3d/{session.name}/{'+'.join(names)}/{session.start_time.isoformat()}"
    nwb = NWBFile(
        session_description=session.description
        or f"mouse jumps from a force platform, {len(trials)} trial(s), session {session.name}",
        identifier=str(uuid.uuid5(uuid.NAMESPACE_URL, identity)),
        session_start_time=session.start_time,
        session_id=session.name,
        experiment_description=session.experiment_description or None,
        experimenter=list(session.experimenter) or None,
        lab=session.lab or None,
        institution=session.institution or None,
        keywords=list(session.keywords) or None,
        notes=session.notes or None,
        source_script=f"mocap3d {__version__}",
        source_script_file_name="mocap3d/io/nwb.py",
        subject=_subject(session),
    )
    views = list(
        dict.fromkeys(
            str(v) for t in trials if t.poses2d is not None for v in t.poses2d["view"].values
        )
    )
    devices = _add_cameras(nwb, cameras, views)
    signals = session_signals
    if signals is None:
        streams = list(dict.fromkeys(s for t in trials for s in t.signals))
        signals = {s: _concat([t.signals.get(s) for t in trials], f"stream {s!r}") for s in streams}
    _add_signals(nwb, signals, signal_kinds)
    _add_exposures(nwb, trials, devices, exposure_s or {}, path.parent.resolve())
    _add_trials(nwb, trials)
    behavior = nwb.create_processing_module(
        name=BEHAVIOR, description="keypoints, skeleton and joint angles (mocap3d)"
    )
    add_poses(
        behavior,
        session=session,
        individuals=trials[0].individuals,
        devices=devices,
        poses2d=_concat([t.poses2d for t in trials], "2D poses"),
        poses3d=_concat([t.poses3d for t in trials], "3D poses"),
        angles=_concat([t.angles for t in trials], "angles"),
    )
    _add_envelopes(nwb, _concat([t.envelopes for t in trials], "EMG envelopes"))
    with atomic_path(path) as tmp:
        work = tmp.with_name(tmp.name + ".nwb")  # pynwb warns about names not ending in .nwb
        try:
            with NWBHDF5IO(str(work), "w") as io:
                io.write(nwb)
            os.replace(work, tmp)
        finally:
            work.unlink(missing_ok=True)
    return path


def _subject(session: SessionInfo) -> Any:
    from pynwb.file import Subject

    return Subject(
        subject_id=session.subject or session.name,
        species=session.species,
        sex=session.sex,
        age=session.age or None,
        date_of_birth=session.date_of_birth,
        strain=session.strain or None,
        genotype=session.genotype or None,
        weight=session.weight or None,
        description=f"group: {session.group}" if session.group else None,
    )


def _add_envelopes(nwb: Any, env: xr.DataArray | None) -> None:
    from pynwb import TimeSeries

    if env is None:
        return
    module = nwb.create_processing_module(
        name=EMG_MODULE, description="EMG envelopes of the hindlimb muscles (mocap3d)"
    )
    first: Any = None
    for i, ch in enumerate(str(c) for c in env["channel"].values):
        one = env.sel(channel=ch)
        ts = TimeSeries(
            comments=tag(channel=ch, index=i),
            name=f"envelope_{ch}",
            description=f"EMG envelope of channel {ch}: "
            + str(env.attrs.get("method", "rectified and low-pass filtered")),
            data=compress(np.asarray(one.values, dtype=np.float64)),
            unit=nwb_unit(str(one["unit"].values)),
            **timing(env["time"].values, first, env.attrs.get("rate_hz")),
        )
        module.add(ts)
        if first is None:
            first = ts
