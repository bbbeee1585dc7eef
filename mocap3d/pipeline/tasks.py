"""The pipeline's unit tasks: top-level functions of plain arguments, run in any process.

Each task reads its inputs from the project folder and either writes files of its own (a
camera's tracks, a session's sync) or returns small datasets for the caller to write (3D
poses go into the session file, which only the process driving the run writes). They run the
same in the calling process (serial) and on Dask workers, so results do not depend on the
scheduler.
"""

from __future__ import annotations

import logging
from typing import Any

import xarray as xr

from mocap3d.io.project import Project, open_project
from mocap3d.rig import Rig

log = logging.getLogger(__name__)

_PREDICTORS: dict[tuple[str, int | None, int], Any] = {}
"""Per process: loaded networks by (model id, threads, batch), reused across tasks."""


def calibrate(root: str) -> dict[str, Any]:
    """Calibrate the project's rig from its footage; write ``calibration/calibration.toml``."""
    from mocap3d.calibration.calibrate import calibrate_project

    project = open_project(root)
    result = calibrate_project(project)
    result.save(project.calibration_path)
    q = result.quality
    return {
        "rms_px": {c: float(v["rms_px"]) for c, v in q.cameras.items()},
        "board_spacing_error_percent": float(q.geometry.get("median_error_percent", float("nan"))),
        "warnings": list(q.warnings),
    }


def track(
    root: str, session: str, trial: str, camera: str, *, threads: int | None, batch_size: int
) -> dict[str, Any]:
    """Track one camera's video of one trial with the camera's model; write its tracks file."""
    from mocap3d.tracking.analyze import track_video, tracks_path, trained_models
    from mocap3d.tracking.infer import Predictor

    project = open_project(root)
    sess = project.session(session)
    model = trained_models(project, [camera])[camera]
    key = (model.model_id, threads, batch_size)
    if key not in _PREDICTORS:
        _PREDICTORS[key] = Predictor(model, batch_size=batch_size, threads=threads)
    out = tracks_path(sess, trial, camera)
    video = sess.video_path(trial, camera)
    fps = project.rig().camera(camera).fps
    ds = track_video(_PREDICTORS[key], video, out, view=camera, fps=fps)
    return {"frames": int(ds.sizes["time"]), "path": str(out)}


def sync(root: str, session: str) -> dict[str, Any]:
    """Synchronise a session's cameras with its DAQ file; write frame times and the report."""
    from mocap3d.sync.session import sync_project_session
    from mocap3d.sync.store import write_session_sync

    project = open_project(root)
    sess = project.session(session)
    result = sync_project_session(project, sess)
    paths = write_session_sync(result, sess.derived_path, sess.outputs_dir / "sync")
    return {
        "trials": sorted(result.maps),
        "report": str(paths["report_json"]),
        "warnings": list(result.warnings),
    }


def trial_poses2d(project: Project, rig: Rig, session: str, trial: str) -> xr.Dataset:
    """A trial's tracks of every camera on the master clock.

    Rows are placed at the trigger slot their frame was exposed in; ``time`` is the middle of
    the exposure (slot start + half the rig's ``exposure_us``, when the rig gives it) — the
    instant the image shows — and ``exposure_time`` keeps each view's exposure start.
    """
    import numpy as np

    from mocap3d.sync.store import read_frame_maps
    from mocap3d.sync.tracks import place_tracks
    from mocap3d.tracking.analyze import load_trial_poses2d

    sess = project.session(session)
    raw = load_trial_poses2d(project, session, trial)
    placed = place_tracks(raw, read_frame_maps(sess.derived_path, trial))
    exposures = [c.exposure_us for c in rig.cameras if c.exposure_us]
    half = float(np.median(exposures)) * 0.5e-6 if exposures else 0.0
    placed = placed.assign_coords(time=placed["time"].values + half)
    placed.attrs["time_point"] = "mid-exposure" if half else "exposure start"
    return placed


def triangulate(
    root: str, session: str, trial: str, *, method: str, min_score: float
) -> tuple[xr.Dataset, xr.Dataset, str]:
    """A trial's 2D tracks on the master clock, their 3D reconstruction (not written), and a
    note of the keypoints left out (never seen by two cameras: NaN in 3D)."""
    from mocap3d.camera import CameraGroup
    from mocap3d.triangulation.pipeline import triangulate as solve

    project = open_project(root)
    rig = project.rig()
    poses2d = trial_poses2d(project, rig, session, trial)
    calibration = CameraGroup.load(project.calibration_path)
    poses3d = solve(
        poses2d,
        calibration,
        method=method,  # type: ignore[arg-type]
        min_score=min_score,
        bones=rig.skeleton.bones,
        fps=rig.fps,
        unseen="leave_out",
    )
    poses3d = poses3d.assign_coords(time=poses2d["time"].values)
    poses3d.attrs.update(clock="master", time_unit="s", source_software="mocap3d triangulate")
    left_out = poses3d.attrs.get("keypoints_left_out", [])
    note = ""
    if left_out:
        note = (
            f"{', '.join(left_out)} not seen by two cameras with confidence ≥ {min_score} in "
            "any frame: left out (NaN)"
        )
    return poses2d, poses3d, note
