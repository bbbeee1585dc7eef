"""Labelled images: which split each belongs to, and importing labels made elsewhere.

An image is named as DeepLabCut names it, ``labeled-data/<video>/<image>.png``. In a mocap3d
project ``<video>`` is ``<session>__<trial>__<camera>`` and its split is its trial's; in a
DeepLabCut project made elsewhere whole videos are split (or, if asked, single frames, when a
project has one video only).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from mocap3d.errors import InputError
from mocap3d.io.dlc import LabelledFrames, read_collected_data, write_collected_data
from mocap3d.io.project import Project
from mocap3d.tracking.dlcproject import DLCProject, open_dlc_project, png_size
from mocap3d.tracking.infer import video_info
from mocap3d.tracking.project import (
    SplitName,
    Tracking,
    VideoRef,
    open_tracking,
    register_video,
    split_groups,
)


def image_split(tracking: Tracking, model: str) -> dict[str, SplitName]:
    """Labelled image → split, from the trial split of a mocap3d project's model.

    Raises
    ------
    InputError
        If the model has no labels, or a labelled video is not in the split.
    """
    project = open_dlc_project(tracking.model_dir(model))
    out: dict[str, SplitName] = {}
    for stem, labels in project.all_labels().items():
        name = tracking.split_of(stem)
        if name is None:
            raise InputError(
                f"labelled video {stem!r} of model {model!r} belongs to no split trial in "
                f"{tracking.path}; run `mocap3d track split` to assign its trial"
            )
        out.update(dict.fromkeys(labels.images, name))
    return out


def video_split(
    project: DLCProject,
    *,
    test_fraction: float = 0.2,
    generalisation: Sequence[str] | int = 0,
    by: Literal["video", "frame"] = "video",
    seed: int = 0,
) -> dict[str, SplitName]:
    """Labelled image → split for a DeepLabCut project made elsewhere.

    ``by="video"`` keeps each video's frames together (the default; needs ≥ 2 labelled
    videos for a test set). ``by="frame"`` splits single frames — neighbouring frames of one
    video then sit on both sides, which flatters the test error; use it only for projects
    with a single video.
    """
    labels = project.all_labels()
    groups: dict[str, str] = {}
    for stem, lab in labels.items():
        for img in lab.images:
            groups[img] = stem if by == "video" else img
    if by == "video" and len(labels) < 2 and test_fraction > 0:
        raise InputError(
            f"{project.config_path} has one labelled video ({next(iter(labels))}); a test "
            "set needs another video (whole videos are split), or split by frame"
        )
    assign = split_groups(
        list(groups.values()), test_fraction=test_fraction, generalisation=generalisation, seed=seed
    )
    return {img: assign[g] for img, g in groups.items()}


def import_labels(
    project: Project,
    source: str | Path,
    *,
    session: str,
    trial: str,
    camera: str,
) -> Tracking:
    """Copy labelled frames made elsewhere into the camera's model of a mocap3d project.

    Parameters
    ----------
    source : path-like
        A folder with ``CollectedData_<scorer>.h5`` (or ``.csv``) and the labelled images it
        lists (DeepLabCut's ``labeled-data/<video>/`` layout, any scorer).
    session, trial, camera : str
        Where the frames come from; the trial must exist in the project.

    Returns
    -------
    Tracking
        With the video registered; labels are rewritten under the project's scorer with the
        rig's keypoints (keypoints missing from the source are NaN, extra ones dropped).
    """
    source = Path(source)
    files = sorted(source.glob("CollectedData_*.h5")) or sorted(source.glob("CollectedData_*.csv"))
    if not files:
        raise InputError(
            f"no labels in {source}: expected CollectedData_<scorer>.h5 (DeepLabCut format)"
        )
    labels = read_collected_data(files[0])
    tracking = open_tracking(project)
    rig = project.rig()
    common = [k for k in rig.keypoints if k in labels.keypoints]
    if not common:
        raise InputError(
            f"{files[0]} labels keypoints {labels.keypoints}, none of rig {rig.name!r}'s "
            f"{rig.keypoints}"
        )
    session_obj = project.session(session)
    video = session_obj.video_path(trial, camera)
    ref = VideoRef(session, trial, camera)
    dest = tracking.model_dir(tracking.model_for(camera)) / "labeled-data" / ref.stem
    dest.mkdir(parents=True, exist_ok=True)
    xy = np.full((len(labels.images), len(rig.keypoints), 2), np.nan)
    images = []
    size = None
    for i, img in enumerate(labels.images):
        src = source / Path(img).name
        if not src.is_file():
            raise InputError(f"{files[0]} lists image {img}, but {src} does not exist")
        shutil.copyfile(src, dest / src.name)
        images.append(f"labeled-data/{ref.stem}/{src.name}")
        for k, kp in enumerate(rig.keypoints):
            if kp in labels.keypoints:
                xy[i, k] = labels.xy[i, labels.keypoints.index(kp)]
        size = size or png_size(src)
    write_collected_data(dest, LabelledFrames(images, rig.keypoints, xy, tracking.scorer))
    return register_video(tracking, ref, video, size or video_info(video)[1])


def import_simulator_labels(project: Project, *, cameras: Sequence[str] | None = None) -> Tracking:
    """Import every labelled folder the simulator wrote into a simulated project.

    ``mocap3d.simulate`` writes ``sessions/<s>/truth/labeled-data/<s>_<trial>_<camera>/``;
    each is imported with :func:`import_labels`. Returns the updated tracking set-up.

    Raises
    ------
    InputError
        If the project has no simulator labels.
    """
    tracking = open_tracking(project)
    cams = list(cameras) if cameras is not None else list(tracking.models)
    n = 0
    for session in project.sessions():
        for trial in session.trials():
            for cam in cams:
                folder = session.root / "truth" / "labeled-data" / f"{session.name}_{trial}_{cam}"
                if folder.is_dir():
                    tracking = import_labels(
                        project, folder, session=session.name, trial=trial, camera=cam
                    )
                    n += 1
    if n == 0:
        raise InputError(
            f"no simulator labels in {project.sessions_dir}/*/truth/labeled-data/; simulate "
            "with labelled frames (`mocap3d simulate project --labelled 10`)"
        )
    return tracking
