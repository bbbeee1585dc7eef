"""Tracking inside a mocap3d project: one DeepLabCut project per camera, or one shared.

::

    PROJECT/tracking/
      tracking.toml                 mode, scorer, camera → model, trial split, labelled videos
      <model>/                      a DeepLabCut project (config.yaml, labeled-data/, …)
        videos/<stem>.mp4           symlinks to the trial videos that have labelled frames
        labeled-data/<stem>/        img<frame>.png + CollectedData_<scorer>.h5

``<model>`` is the camera's name (``mode = "per_camera"``, the default: each camera angle has
its own network) or ``all_cameras`` (``mode = "shared"``: one network for every camera). A
labelled video's ``<stem>`` is ``<session>__<trial>__<camera>``; ``tracking.toml`` keeps the
map back to session, trial and camera.

Trials are split, not frames: every trial is in exactly one of ``train``, ``test`` (used to
choose the best snapshot) or ``generalisation`` (never seen while training or choosing), so
no trial has frames on both sides, even across cameras of a shared model.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import tomli_w

from mocap3d.errors import InputError
from mocap3d.io.atomic import write_text_atomic
from mocap3d.io.project import Project
from mocap3d.rig import Rig
from mocap3d.tracking.dlcproject import (
    DEFAULT_NET,
    open_dlc_project,
    read_dlc_config,
    update_dlc_config,
    write_dlc_config,
)

TRACKING_DIR = "tracking"
SHARED_MODEL = "all_cameras"
SplitName = Literal["train", "test", "generalisation"]
SPLITS: tuple[SplitName, ...] = ("train", "test", "generalisation")
Mode = Literal["per_camera", "shared"]


@dataclass(frozen=True)
class VideoRef:
    """Where a labelled video comes from."""

    session: str
    trial: str
    camera: str

    @property
    def trial_id(self) -> str:
        return f"{self.session}/{self.trial}"

    @property
    def stem(self) -> str:
        return f"{self.session}__{self.trial}__{self.camera}"


@dataclass(frozen=True)
class Tracking:
    """The tracking set-up of a project (``PROJECT/tracking/tracking.toml``).

    Attributes
    ----------
    root : Path
        ``PROJECT/tracking``.
    mode : {"per_camera", "shared"}
    scorer : str
        Labeller name in ``CollectedData_<scorer>.h5``.
    models : dict of str → str
        Camera → model folder name.
    split : dict of str → {"train", "test", "generalisation"}
        Trial id (``session/trial``) → split.
    videos : dict of str → VideoRef
        Labelled-video stem → its session, trial and camera.
    """

    root: Path
    mode: Mode
    scorer: str
    models: dict[str, str]
    split: dict[str, SplitName] = field(default_factory=dict)
    videos: dict[str, VideoRef] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.root / "tracking.toml"

    def model_names(self) -> list[str]:
        return list(dict.fromkeys(self.models.values()))

    def model_for(self, camera: str) -> str:
        if camera not in self.models:
            raise InputError(
                f"camera {camera!r} has no tracking model in {self.path}; cameras with "
                f"models: {sorted(self.models)} — add the camera to the rig and run "
                "`mocap3d track init` again"
            )
        return self.models[camera]

    def model_dir(self, model: str) -> Path:
        if model not in self.model_names():
            raise InputError(f"{self.path} has no model {model!r}; it has {self.model_names()}")
        return self.root / model

    def cameras_of(self, model: str) -> list[str]:
        return [c for c, m in self.models.items() if m == model]

    def split_of(self, stem: str) -> SplitName | None:
        """The split of a labelled video's trial (None: the trial is not in the split)."""
        ref = self.videos.get(stem)
        return None if ref is None else self.split.get(ref.trial_id)


# ----------------------------------------------------------------------------- persistence


def tracking_root(project: Project) -> Path:
    return project.root / TRACKING_DIR


def save_tracking(tracking: Tracking) -> None:
    """Write ``tracking.toml`` atomically."""
    doc: dict[str, Any] = {
        "tracking": {"mode": tracking.mode, "scorer": tracking.scorer},
        "models": dict(tracking.models),
        "split": {s: sorted(t for t, v in tracking.split.items() if v == s) for s in SPLITS},
        "videos": {
            stem: {"session": r.session, "trial": r.trial, "camera": r.camera}
            for stem, r in sorted(tracking.videos.items())
        },
    }
    write_text_atomic(tracking.path, tomli_w.dumps(doc))


def open_tracking(project: Project) -> Tracking:
    """Read ``PROJECT/tracking/tracking.toml``."""
    root = tracking_root(project)
    path = root / "tracking.toml"
    if not path.is_file():
        raise InputError(
            f"project {project.root} has no tracking set-up ({path} is missing); run "
            f"`mocap3d track init {project.root}` first"
        )
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        meta = doc["tracking"]
        split: dict[str, SplitName] = {}
        for name in SPLITS:
            for trial in doc.get("split", {}).get(name, []):
                split[str(trial)] = name
        videos = {
            str(stem): VideoRef(str(v["session"]), str(v["trial"]), str(v["camera"]))
            for stem, v in doc.get("videos", {}).items()
        }
        return Tracking(
            root=root,
            mode=meta.get("mode", "per_camera"),
            scorer=str(meta.get("scorer", "mocap3d")),
            models={str(k): str(v) for k, v in doc.get("models", {}).items()},
            split=split,
            videos=videos,
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path} is not a valid tracking set-up: {exc!r}") from None


def init_tracking(
    project: Project,
    *,
    shared: bool = False,
    scorer: str = "mocap3d",
    net_type: str = DEFAULT_NET,
    pcutoff: float = 0.8,
) -> Tracking:
    """Create the DeepLabCut project(s) of a mocap3d project from its rig.

    Bodyparts and skeleton come from ``rig.skeleton``. With ``shared=False`` each camera gets
    its own project (named after the camera); with ``shared=True`` one project
    (``all_cameras``) serves every camera. Running it again keeps existing projects and adds
    those of cameras added to the rig since.
    """
    rig = project.rig()
    root = tracking_root(project)
    mode: Mode = "shared" if shared else "per_camera"
    if (root / "tracking.toml").is_file():
        tracking = open_tracking(project)
        if tracking.mode != mode:
            raise InputError(
                f"{tracking.path} is set up as {tracking.mode!r}, not {mode!r}; use a new "
                "project (or delete the tracking folder) to change the mode"
            )
    else:
        tracking = Tracking(root=root, mode=mode, scorer=scorer, models={})
    models = dict(tracking.models)
    for cam in rig.camera_names:
        models.setdefault(cam, SHARED_MODEL if shared else cam)
    tracking = replace(tracking, models=models)
    for model in tracking.model_names():
        folder = root / model
        if (folder / "config.yaml").is_file():
            _check_bodyparts(folder, rig)
            continue
        write_dlc_config(
            folder,
            task=model,
            scorer=tracking.scorer,
            bodyparts=rig.keypoints,
            skeleton=rig.skeleton.bones,
            net_type=net_type,
            pcutoff=pcutoff,
        )
    save_tracking(tracking)
    return tracking


def _check_bodyparts(folder: Path, rig: Rig) -> None:
    have = [str(b) for b in read_dlc_config(folder)["bodyparts"]]
    if have != rig.keypoints:
        raise InputError(
            f"{folder / 'config.yaml'} has bodyparts {have}, but rig {rig.name!r} has "
            f"keypoints {rig.keypoints}; make them match (or start a new tracking folder)"
        )


# ----------------------------------------------------------------------------------- split


def split_groups(
    groups: Sequence[str],
    *,
    test_fraction: float = 0.2,
    generalisation: Sequence[str] | int = 0,
    seed: int = 0,
) -> dict[str, SplitName]:
    """Assign whole groups (trials, videos) to train, test and generalisation.

    Parameters
    ----------
    groups : sequence of str
        Group names (e.g. trial ids); duplicates are ignored.
    test_fraction : float
        Fraction of the non-generalisation groups used for testing (at least one when there
        are two or more groups, never all of them).
    generalisation : sequence of str or int
        Groups held out entirely (e.g. another animal's trials), or how many to draw at
        random.
    seed : int
        Seed of the random draw.
    """
    names = list(dict.fromkeys(groups))
    if not names:
        raise InputError("nothing to split: no trials (or videos) were given")
    if not 0 <= test_fraction < 1:
        raise InputError(f"test_fraction must be in [0, 1), found {test_fraction}")
    rng = np.random.default_rng(seed)
    if isinstance(generalisation, int):
        if not 0 <= generalisation < len(names):
            raise InputError(
                f"cannot hold out {generalisation} of {len(names)} groups for generalisation"
            )
        held = [names[i] for i in sorted(rng.choice(len(names), generalisation, replace=False))]
    else:
        unknown = [g for g in generalisation if g not in names]
        if unknown:
            raise InputError(f"generalisation groups {unknown} are not among {names}")
        held = list(generalisation)
    rest = [g for g in names if g not in held]
    if not rest:
        raise InputError("every group is held out for generalisation; keep some for training")
    n_test = 0
    if test_fraction > 0 and len(rest) >= 2:
        n_test = min(len(rest) - 1, max(1, round(test_fraction * len(rest))))
    test = set(rng.permutation(rest)[:n_test].tolist())
    out: dict[str, SplitName] = {g: "generalisation" for g in held}
    for g in rest:
        out[g] = "test" if g in test else "train"
    return {g: out[g] for g in names}


def assign_split(
    tracking: Tracking,
    project: Project,
    *,
    test_fraction: float = 0.2,
    generalisation: Sequence[str] | int = 0,
    seed: int = 0,
    keep_existing: bool = True,
) -> Tracking:
    """Split the project's trials (``session/trial``) and save the split.

    With ``keep_existing`` trials already assigned stay where they are (labels made for a
    test trial never leak into training later); only new trials are assigned.
    """
    trials = [f"{s.name}/{t}" for s in project.sessions() for t in s.trials()]
    if not trials:
        raise InputError(f"project {project.root} has no trials under sessions/*/raw/videos/")
    old = dict(tracking.split) if keep_existing else {}
    new = [t for t in trials if t not in old]
    split = dict(old)
    if new:
        held: Sequence[str] | int = generalisation
        if not isinstance(generalisation, int):
            held = [g for g in generalisation if g in new]
        split.update(split_groups(new, test_fraction=test_fraction, generalisation=held, seed=seed))
    tracking = replace(tracking, split=split)
    save_tracking(tracking)
    return tracking


# ---------------------------------------------------------------------------- videos


def register_video(
    tracking: Tracking, ref: VideoRef, video: Path, size: tuple[int, int]
) -> Tracking:
    """Add a trial video to its camera's DeepLabCut project (symlink + ``video_sets``)."""
    model_dir = tracking.model_dir(tracking.model_for(ref.camera))
    link = model_dir / "videos" / f"{ref.stem}{video.suffix}"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink() and not link.exists():
        link.symlink_to(video.absolute())
    project = open_dlc_project(model_dir)
    sets = dict(project.cfg.get("video_sets") or {})
    sets[str(link)] = {"crop": f"0, {size[0]}, 0, {size[1]}"}
    update_dlc_config(project.config_path, video_sets=sets)
    videos = {**tracking.videos, ref.stem: ref}
    tracking = replace(tracking, videos=videos)
    save_tracking(tracking)
    return tracking
