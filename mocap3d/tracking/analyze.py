"""Tracking every trial of a project, resumably, and reading tracks into poses2d.

Each trial's tracks are written per camera as a DeepLabCut file,
``sessions/<session>/derived/tracks2d/<trial>/<camera>.h5`` (key ``df_with_missing``; columns
scorer/bodyparts/coords with x, y, likelihood), which DeepLabCut, Anipose and movement read.
The scorer name holds the model's id (``DLC_<net>_mocap3d_<sha256[:16]>``): a trial is
analysed again only if that camera's model changed (or ``overwrite``). Tracks made elsewhere
(DeepLabCut's ``analyze_videos`` ``.h5`` or ``.csv``) are read by :func:`read_trial_tracks`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from mocap3d.datasets import make_poses2d
from mocap3d.errors import InputError
from mocap3d.io.dlc import read_dlc_tracks, write_dlc_tracks
from mocap3d.io.project import Project, Session
from mocap3d.progress import Progress, report
from mocap3d.tracking.infer import Predictor, analyze_video
from mocap3d.tracking.model import TrainedModel, load_model
from mocap3d.tracking.project import open_tracking

log = logging.getLogger(__name__)

TRACKS_DIR = "tracks2d"


@dataclass(frozen=True)
class TrialTracks:
    """What happened to one trial and camera."""

    session: str
    trial: str
    camera: str
    path: Path
    status: Literal["analysed", "skipped"]
    frames: int = 0
    seconds: float = 0.0


def tracks_path(session: Session, trial: str, camera: str) -> Path:
    """Where the tracks of a trial's camera are written."""
    return session.root / "derived" / TRACKS_DIR / trial / f"{camera}.h5"


def tracks_scorer(path: Path) -> str | None:
    """The scorer (model) that made a tracks file, or None if the file is missing/unreadable."""
    import pandas as pd

    if not path.is_file():
        return None
    try:
        with pd.HDFStore(path, mode="r") as store:
            key = "/df_with_missing" if "/df_with_missing" in store else None
            if key is None:
                return None
            cols = store.select(key, start=0, stop=1).columns
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(cols.get_level_values(0)[0]) if len(cols) else None


def track_video(
    predictor: Predictor,
    video: str | Path,
    out: str | Path,
    *,
    view: str,
    fps: float | None = None,
    progress: Progress | None = None,
) -> xr.Dataset:
    """Track one video with a loaded network and write its DeepLabCut tracks file ``out``
    (scorer: the model's, so a later run knows which model made it); returns the poses2d."""
    ds = analyze_video(predictor, video, view=view, fps=fps, progress=progress)
    write_dlc_tracks(ds, out, view=view, scorer=predictor.model.scorer)
    return ds


def trained_models(project: Project, cameras: Sequence[str]) -> dict[str, TrainedModel]:
    """Each camera's trained model, checked against the rig's keypoints.

    Raises
    ------
    InputError
        If a camera has no model, or its model was trained on other bodyparts.
    """
    tracking = open_tracking(project)
    rig = project.rig()
    by_model: dict[str, TrainedModel] = {}
    out = {}
    for cam in cameras:
        rig.camera(cam)
        name = tracking.model_for(cam)
        if name not in by_model:
            try:
                by_model[name] = load_model(tracking.model_dir(name))
            except InputError as exc:
                raise InputError(
                    f"camera {cam!r} has no trained model ({exc}); train it with "
                    f"`mocap3d track train {project.root} --camera {cam}`"
                ) from None
            by_model[name].check_bodyparts(rig.keypoints, what=f"rig {rig.name!r}")
        out[cam] = by_model[name]
    return out


def analyze_project(
    project: Project,
    *,
    cameras: Sequence[str] | None = None,
    sessions: Sequence[str] | None = None,
    trials: Sequence[str] | None = None,
    overwrite: bool = False,
    batch_size: int = 8,
    threads: int | None = None,
    progress: Progress | None = None,
) -> list[TrialTracks]:
    """Track every trial and camera of a project (resumable).

    Parameters
    ----------
    cameras, sessions : sequence of str, optional
        Default: all of the rig's cameras, all sessions.
    trials : sequence of str, optional
        Trial names (in every chosen session), default all.
    overwrite : bool
        Analyse again even trials already analysed with the same model.

    Returns
    -------
    list of TrialTracks
        One per trial and camera, ``status`` "analysed" or "skipped".
    """
    rig = project.rig()
    cams = list(cameras) if cameras is not None else rig.camera_names
    models = trained_models(project, cams)
    chosen = [project.session(s) for s in sessions] if sessions else project.sessions()
    jobs = [
        (s, t, c) for s in chosen for t in s.trials() if trials is None or t in trials for c in cams
    ]
    predictors: dict[str, Predictor] = {}
    results = []
    for i, (session, trial, cam) in enumerate(jobs):
        report(progress, i, len(jobs), "analyse trials")
        model = models[cam]
        out = tracks_path(session, trial, cam)
        if not overwrite and tracks_scorer(out) == model.scorer:
            results.append(TrialTracks(session.name, trial, cam, out, "skipped"))
            continue
        video = session.video_path(trial, cam)
        if model.model_id not in predictors:
            predictors[model.model_id] = Predictor(model, batch_size=batch_size, threads=threads)
        t0 = time.perf_counter()
        ds = track_video(predictors[model.model_id], video, out, view=cam, fps=rig.camera(cam).fps)
        results.append(
            TrialTracks(
                session.name,
                trial,
                cam,
                out,
                "analysed",
                frames=ds.sizes["time"],
                seconds=time.perf_counter() - t0,
            )
        )
        log.info("tracked %s/%s %s: %d frames", session.name, trial, cam, ds.sizes["time"])
    report(progress, len(jobs), len(jobs), "analyse trials")
    return results


def read_trial_tracks(
    files: Mapping[str, str | Path],
    *,
    fps: float | None = None,
    keypoints: Sequence[str] | None = None,
) -> xr.Dataset:
    """Read one trial's tracks of several cameras into one poses2d dataset.

    Parameters
    ----------
    files : mapping of camera → path
        DeepLabCut ``.h5`` or ``.csv`` tracks (ours or made by DeepLabCut elsewhere).
    fps : float, optional
        Frame rate; ``time`` is ``frame / fps``.
    keypoints : sequence of str, optional
        Keypoints to keep, in this order (default: those of the first file). A camera's file
        lacking one of them is an error.

    Returns
    -------
    xarray.Dataset
        poses2d with ``view`` = the cameras in the given order. Cameras with fewer frames
        are padded with NaN (and listed in the ``padded_views`` attribute), never truncated.
    """
    if not files:
        raise InputError("no track files given")
    parts = {cam: read_dlc_tracks(path, view=cam, fps=fps) for cam, path in files.items()}
    first = next(iter(parts.values()))
    kps = list(keypoints) if keypoints is not None else [str(k) for k in first.keypoint.values]
    n = max(p.sizes["time"] for p in parts.values())
    pos = np.full((len(parts), n, 2, len(kps), 1), np.nan)
    conf = np.full((len(parts), n, len(kps), 1), np.nan)
    padded = []
    for v, (cam, ds) in enumerate(parts.items()):
        have = [str(k) for k in ds.keypoint.values]
        missing = [k for k in kps if k not in have]
        if missing:
            raise InputError(
                f"tracks of camera {cam!r} ({files[cam]}) lack keypoints {missing}; they have "
                f"{have}"
            )
        one = ds.isel(view=0, individual=0).sel(keypoint=kps)
        m = one.sizes["time"]
        if m < n:
            padded.append(cam)
        pos[v, :m, :, :, 0] = one.position.transpose("time", "space", "keypoint").values
        conf[v, :m, :, 0] = one.confidence.transpose("time", "keypoint").values
    return make_poses2d(
        pos,
        conf,
        views=list(parts),
        keypoints=kps,
        fps=fps or None,
        source_software="DeepLabCut",
        padded_views=padded,
    )


def load_trial_poses2d(
    project: Project, session: str, trial: str, *, cameras: Sequence[str] | None = None
) -> xr.Dataset:
    """The poses2d dataset of one analysed trial (all cameras of the rig by default)."""
    rig = project.rig()
    sess = project.session(session)
    cams = list(cameras) if cameras is not None else rig.camera_names
    files = {}
    for cam in cams:
        path = tracks_path(sess, trial, cam)
        if not path.is_file():
            raise InputError(
                f"trial {session}/{trial} has no tracks for camera {cam!r} ({path}); run "
                f"`mocap3d track analyze {project.root}`"
            )
        files[cam] = path
    return read_trial_tracks(files, fps=rig.fps, keypoints=rig.keypoints)


def project_jitter(
    project: Project,
    *,
    cameras: Sequence[str] | None = None,
    pcutoff: float = 0.8,
    window: int = 5,
    threshold_px: float = 3.0,
) -> Any:
    """Jitter and detection rates of every analysed trial (see
    :func:`mocap3d.tracking.evaluate.track_jitter`), as a pandas DataFrame indexed by
    (trial, view, keypoint); empty if nothing was analysed yet."""
    import pandas as pd

    from mocap3d.tracking.evaluate import track_jitter

    rig = project.rig()
    cams = list(cameras) if cameras is not None else rig.camera_names
    rows: list[dict[str, Any]] = []
    for session in project.sessions():
        for trial in session.trials():
            files = {c: tracks_path(session, trial, c) for c in cams}
            files = {c: p for c, p in files.items() if p.is_file()}
            if files:
                ds = read_trial_tracks(files, fps=rig.fps)
                rows += track_jitter(
                    ds,
                    window=window,
                    threshold_px=threshold_px,
                    pcutoff=pcutoff,
                    trial=f"{session.name}/{trial}",
                )
    if not rows:
        return pd.DataFrame(columns=["jitter_rms_px", "jitter_rate", "detected"])
    return pd.DataFrame(rows).set_index(["trial", "view", "keypoint"])
