"""The simulator's truth written as if the pipeline had produced it: a stand-in for reports.

:func:`write_truth_as_derived` puts a simulated session's ground truth into its session file
at the groups :mod:`mocap3d.report.content` reads (tracks with their true frame times, true 3D
keypoints and angles, jump events, EMG envelopes of the raw signals, jump metrics), and can copy
the true calibration into ``calibration/calibration.toml``. Exports, figures, videos and reports
can then be built and checked before — or alongside — the real pipeline; every dataset says
``source_software = "mocap3d.simulate (truth)"``. Never use it on real recordings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from mocap3d.io.project import Project, Session
from mocap3d.io.rawdaq import read_raw_daq_info, read_stream
from mocap3d.io.session import write_dataset
from mocap3d.progress import Progress, report
from mocap3d.report.content import group_name
from mocap3d.simulate.truth import TrialTruth, read_truth

SOURCE = "mocap3d.simulate (truth)"
ENVELOPE_WINDOW_S = 0.010


def truth_poses2d(trial: TrialTruth) -> xr.Dataset:
    """The simulated tracker's output on the master clock, as sync would place it.

    Adds ``exposure_time`` and ``frame_index`` (view, time) like
    :func:`mocap3d.sync.tracks.place_tracks`; NaN where a camera dropped the frame.
    """
    ds = trial.poses2d(tracks=True)
    video_frame = trial["video_frame"]
    dropped = video_frame < 0
    ds["position"] = ds["position"].where(~xr.DataArray(dropped, dims=("view", "time")))
    ds["confidence"] = ds["confidence"].where(~xr.DataArray(dropped, dims=("view", "time")))
    exposure = np.where(dropped, np.nan, trial["frame_time_s"][None, :])
    ds["exposure_time"] = (("view", "time"), exposure, {"units": "s"})
    ds["frame_index"] = (("view", "time"), video_frame.astype(np.int64))
    ds.attrs["source_software"] = SOURCE
    ds.attrs["clock"] = "master"
    return ds


def truth_angles(trial: TrialTruth) -> xr.DataArray:
    """True joint angles (time, joint, individual), rad."""
    return xr.DataArray(
        trial["angles"][..., None],
        dims=("time", "joint", "individual"),
        coords={
            "time": trial["pose_time_s"],
            "joint": trial.angle_names,
            "individual": ["individual_0"],
        },
        name="angle",
        attrs={"units": "rad", "source_software": SOURCE},
    )


def rms_envelope(emg: xr.DataArray, *, window_s: float = ENVELOPE_WINDOW_S) -> xr.DataArray:
    """Moving-RMS envelope (centred window) of physical EMG (time, channel), same units."""
    from scipy.ndimage import uniform_filter1d

    rate = float(emg.attrs["rate_hz"])
    n = max(1, round(window_s * rate))
    x = emg.transpose("time", "channel").values
    env = np.sqrt(uniform_filter1d(x * x, size=n, axis=0, mode="nearest"))
    out = emg.copy(data=env)
    out.name = "envelope"
    out.attrs["method"] = f"moving RMS, {window_s * 1e3:g} ms centred window"
    return out


def truth_metrics(trial: TrialTruth) -> dict[str, float]:
    """Jump metrics of the truth, names ending in their unit."""
    a = trial.attrs
    v = np.asarray(a["takeoff_velocity_m_s"], dtype=np.float64)
    ev = trial.events
    onsets = trial.emg_onsets("pushoff")
    out = {
        "jump_height_mm": float(a["jump_height_mm"]),
        "jump_height_flight_mm": float(a["jump_height_flight_mm"]),
        "flight_time_s": float(a["flight_time_s"]),
        "takeoff_speed_m_s": float(np.linalg.norm(v)),
        "takeoff_vz_m_s": float(v[2]),
        "pushoff_duration_ms": 1e3 * (ev["takeoff"] - ev["pushoff_start"]),
        "mass_g": 1e3 * float(a["mass_kg"]),
    }
    for ch, t in sorted(onsets.items()):
        out[f"{ch}_onset_to_takeoff_ms"] = 1e3 * (ev["takeoff"] - t)
    return out


def write_truth_as_derived(
    project: Project,
    session: Session,
    *,
    calibration: bool = True,
    progress: Progress | None = None,
) -> Path:
    """Write a simulated session's truth into its session file (see the module docstring).

    Parameters
    ----------
    calibration : bool
        Also copy ``truth/calibration.toml`` to the project's ``calibration/calibration.toml``
        when that does not exist yet.

    Returns
    -------
    Path
        The session file.
    """
    truth = read_truth(session.root / "truth" / "truth.h5")
    if calibration and not project.calibration_path.is_file():
        truth.cameras.save(project.calibration_path)
    info = read_raw_daq_info(session.raw_daq_path)
    daq = project.rig().daq
    emg_channels = [c.name for c in daq.channels if c.kind == "emg"] if daq else []
    path = session.derived_path
    metrics: dict[str, dict[str, float]] = {}
    names = list(truth.trials)
    for i, (name, trial) in enumerate(truth.trials.items()):
        report(progress, i, len(names), f"truth → {session.name}")
        write_dataset(path, group_name("poses2d", name), truth_poses2d(trial))
        p3 = trial.poses3d()
        p3.attrs["source_software"] = SOURCE
        write_dataset(path, group_name("poses3d", name), p3)
        write_dataset(path, group_name("angles", name), truth_angles(trial).to_dataset())
        events = xr.Dataset(
            {k: ((), float(v), {"units": "s"}) for k, v in trial.events.items()},
            attrs={"clock": "master", "source_software": SOURCE},
        )
        write_dataset(path, group_name("events", name), events)
        if emg_channels:
            stream = info.stream_of(emg_channels[0])
            t = trial["frame_time_s"]
            a = max(0, int((t[0] - stream.t0_s) * stream.rate_hz))
            b = min(stream.n_samples, int((t[-1] - stream.t0_s) * stream.rate_hz) + 1)
            chans = [c for c in emg_channels if c in stream.channel_names]
            emg = read_stream(session.raw_daq_path, stream.name, channels=chans, start=a, stop=b)
            env = rms_envelope(emg)
            env.attrs["source_software"] = SOURCE
            write_dataset(path, group_name("emg_envelope", name), env.to_dataset())
        metrics[name] = truth_metrics(trial)
    columns = sorted({k for m in metrics.values() for k in m})
    table = xr.Dataset(
        {c: (("trial",), [metrics[t].get(c, np.nan) for t in names]) for c in columns},
        coords={"trial": names},
        attrs={"source_software": SOURCE},
    )
    write_dataset(path, group_name("metrics"), table)
    report(progress, len(names), len(names), f"truth → {session.name}")
    return path
