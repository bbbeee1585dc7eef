"""Recovered vs true for a simulated project that went through the pipeline.

The simulator keeps its truth beside the data (``truth/calibration.toml``,
``sessions/<s>/truth/truth.h5``); these functions set what the pipeline wrote against it:
the calibration, the 3D keypoints and the joint angles. (Jump metrics and events are compared
by :mod:`mocap3d.analysis.validate`.) Frames are matched by time on the master clock, within
half a frame period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.io.project import Project


def calibration_vs_truth(project: Project) -> pd.DataFrame:
    """Per camera: centre (mm) and orientation (deg) error in the world frame, the same after
    aligning the rigs (shape only), focal length error (%).

    Raises
    ------
    InputError
        No calibration, or not a simulated project.
    """
    from mocap3d.calibration.quality import compare_calibrations

    true_path = project.root / "truth" / "calibration.toml"
    if not true_path.is_file() or not project.calibration_path.is_file():
        raise InputError(
            f"need {project.calibration_path} and the simulator's {true_path} to compare"
        )
    est, ref = CameraGroup.load(project.calibration_path), CameraGroup.load(true_path)
    world = compare_calibrations(est, ref)
    shape = compare_calibrations(est, ref, align=True)
    rows = [
        {
            "camera": c,
            "centre_mm": world[c]["centre_mm"],
            "rotation_deg": world[c]["rotation_deg"],
            "shape_centre_mm": shape[c]["centre_mm"],
            "shape_rotation_deg": shape[c]["rotation_deg"],
            "focal_percent": shape[c]["focal_percent"],
        }
        for c in ref.names
    ]
    return pd.DataFrame(rows).set_index("camera")


def match_times(recovered: np.ndarray, truth: np.ndarray, period: float) -> np.ndarray:
    """For each recovered time, the index of the truth time within half a period (-1: none)."""
    idx = np.clip(np.searchsorted(truth, recovered), 1, len(truth) - 1)
    left, right = truth[idx - 1], truth[idx]
    idx = np.where(np.abs(recovered - left) <= np.abs(right - recovered), idx - 1, idx)
    ok = np.abs(truth[idx] - recovered) <= period / 2
    return np.where(ok, idx, -1)


def _trial_pairs(project: Project, trials: set[tuple[str, str]] | None):
    from mocap3d.io.session import list_datasets, read_dataset
    from mocap3d.simulate.truth import read_truth

    for session in project.sessions():
        truth_file = session.root / "truth" / "truth.h5"
        if not truth_file.is_file() or not session.derived_path.is_file():
            continue
        have = set(list_datasets(session.derived_path))
        truth = read_truth(truth_file)
        for trial, tt in truth.trials.items():
            group = f"trials/{trial}/poses3d"
            if (trials is not None and (session.name, trial) not in trials) or group not in have:
                continue
            yield session.name, trial, read_dataset(session.derived_path, group), tt


def poses3d_errors(
    project: Project, *, trials: set[tuple[str, str]] | None = None
) -> dict[tuple[str, str], xr.DataArray]:
    """Distance (mm) of each reconstructed keypoint from the true one, per trial.

    Returns
    -------
    dict of (session, trial) → xarray.DataArray (time, keypoint)
        Over the true frames a reconstructed frame matches (NaN where a keypoint was not
        reconstructed); ``attrs["n_true_frames"]``: the trial's true frames.
    """
    out = {}
    for session, trial, rec, tt in _trial_pairs(project, trials):
        true3d = tt.poses3d()
        t_true = true3d["time"].values
        idx = match_times(rec["time"].values, t_true, 1.0 / float(tt.attrs["fps"]))
        keep = idx >= 0
        kps = [str(k) for k in true3d.keypoint.values]
        p_rec = rec["position"].sel(keypoint=kps).isel(individual=0, time=keep)
        p_true = true3d["position"].sel(keypoint=kps).isel(individual=0, time=idx[keep])
        d = np.linalg.norm(
            p_rec.transpose("time", "keypoint", "space").values
            - p_true.transpose("time", "keypoint", "space").values,
            axis=-1,
        )
        out[(session, trial)] = xr.DataArray(
            d,
            dims=("time", "keypoint"),
            coords={"time": t_true[idx[keep]], "keypoint": kps},
            attrs={"units": "mm", "n_true_frames": len(t_true)},
        )
    return out


def poses3d_vs_truth(
    project: Project, *, trials: set[tuple[str, str]] | None = None
) -> pd.DataFrame:
    """3D error per trial and keypoint (:func:`poses3d_errors` summarised).

    Returns
    -------
    pandas.DataFrame
        Columns session, trial, keypoint, n (frames compared), missing (true frames without
        a reconstruction, %), median_mm, p95_mm, max_mm.
    """
    rows = []
    for (session, trial), d in poses3d_errors(project, trials=trials).items():
        for kp in d["keypoint"].values:
            e = d.sel(keypoint=kp).values
            e = e[np.isfinite(e)]
            rows.append({
                "session": session, "trial": trial, "keypoint": str(kp), "n": int(e.size),
                "missing": 100.0 * (1 - e.size / d.attrs["n_true_frames"]),
                "median_mm": float(np.median(e)) if e.size else np.nan,
                "p95_mm": float(np.percentile(e, 95)) if e.size else np.nan,
                "max_mm": float(e.max()) if e.size else np.nan,
            })  # fmt: skip
    return pd.DataFrame(rows)


def angles_vs_truth(
    project: Project, *, trials: set[tuple[str, str]] | None = None
) -> pd.DataFrame:
    """Joint-angle error per trial and joint: angles of the reconstructed keypoints (the rig's
    definitions) against the simulator's true angles, deg (median and p95 of |error|)."""
    from mocap3d.analysis.angles import compute_joint_angles

    rig = project.rig()
    rows = []
    for session, trial, rec, tt in _trial_pairs(project, trials):
        angles = compute_joint_angles(rec, rig).isel(individual=0)
        t_true = tt["pose_time_s"]
        idx = match_times(angles["time"].values, t_true, 1.0 / float(tt.attrs["fps"]))
        keep = idx >= 0
        for j, joint in enumerate(tt.angle_names):
            if joint not in angles.joint.values:
                continue
            rec_j = angles.sel(joint=joint).values[keep]
            true_j = tt["angles"][idx[keep], j]
            diff = np.angle(np.exp(1j * (rec_j - true_j)))  # wrapped, rad
            e = np.degrees(np.abs(diff[np.isfinite(diff)]))
            rows.append({
                "session": session, "trial": trial, "joint": joint, "n": int(e.size),
                "median_deg": float(np.median(e)) if e.size else np.nan,
                "p95_deg": float(np.percentile(e, 95)) if e.size else np.nan,
            })  # fmt: skip
    return pd.DataFrame(rows)
