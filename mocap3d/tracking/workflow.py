"""Training every model of a project in one call, with a cache of trained models.

:func:`train_project_models` trains the model of each camera (or the shared one) on its
labelled frames with the trial split of ``tracking.toml``. With ``cache_dir`` a trained model
is stored under a key made of everything that determines it — the labels, the labelled
images, the split, the bodyparts and the training settings — and a later call with the same
inputs (e.g. the demo run again in a fresh folder) copies it instead of training again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mocap3d.errors import InputError
from mocap3d.io.project import Project
from mocap3d.progress import Progress
from mocap3d.tracking.dlcproject import open_dlc_project, read_dlc_config, update_dlc_config
from mocap3d.tracking.labels import image_split
from mocap3d.tracking.model import TrainedModel, load_model
from mocap3d.tracking.project import SplitName, open_tracking
from mocap3d.tracking.train import TrainSettings, train_model

log = logging.getLogger(__name__)
CACHE_VERSION = 1


def model_key(model_dir: Path, split: dict[str, SplitName], settings: TrainSettings) -> str:
    """A hash of everything a trained model depends on (labels, images, split, settings)."""
    project = open_dlc_project(model_dir)
    h = hashlib.sha256()
    fields = {k: str(v) for k, v in asdict(settings).items() if k != "threads"}
    head = {"v": CACHE_VERSION, "bodyparts": project.bodyparts, "settings": fields}
    h.update(json.dumps(head, sort_keys=True).encode())
    for stem, labels in sorted(project.all_labels().items()):
        h.update(stem.encode())
        h.update(labels.xy.tobytes())
        for img in labels.images:
            h.update(f"{img}={split.get(img)}".encode())
            path = project.root / img
            if path.is_file():
                h.update(hashlib.sha256(path.read_bytes()).digest())
    if settings.weights is not None:
        h.update(hashlib.sha256(Path(settings.weights).read_bytes()).digest())
    return h.hexdigest()[:24]


def _store(model_dir: Path, target: Path) -> None:
    """Copy a trained DeepLabCut project folder into the cache atomically (rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        shutil.copytree(model_dir, tmp / "m", symlinks=True, ignore=_no_videos)
        os.replace(tmp / "m", target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _restore(cached: Path, model_dir: Path) -> None:
    """Copy a cached model into a project's DeepLabCut folder. Its ``config.yaml`` keeps
    this project's ``project_path`` and ``video_sets`` (the cached one names the folder and
    videos of the project that trained it) and takes the rest (training fractions …)."""
    own = read_dlc_config(model_dir / "config.yaml")
    shutil.copytree(
        cached, model_dir, symlinks=True, dirs_exist_ok=True,
        ignore=lambda folder, names: ["config.yaml"] if Path(folder) == cached else [],
    )  # fmt: skip
    trained = read_dlc_config(cached / "config.yaml")
    merged: dict[str, Any] = {**trained}
    merged.update({k: own[k] for k in ("project_path", "video_sets") if k in own})
    update_dlc_config(model_dir / "config.yaml", **merged)


def _no_videos(folder: str, names: list[str]) -> list[str]:
    return names if Path(folder).name == "videos" else []


def cached_model_dir(
    cache_dir: str | Path,
    name: str,
    model_dir: Path,
    split: dict[str, SplitName],
    settings: TrainSettings,
) -> Path:
    """Where :func:`train_project_models` keeps (and looks for) model ``name`` trained on
    ``model_dir``'s labels with ``split`` and ``settings`` (it holds ``config.yaml`` once
    stored)."""
    return Path(cache_dir) / f"{name}-{model_key(model_dir, split, settings)}"


def train_project_models(
    project: Project,
    settings: TrainSettings | None = None,
    *,
    cameras: Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> dict[str, TrainedModel]:
    """Train (or fetch from the cache) the model of each camera of a project.

    Parameters
    ----------
    project : Project
        With ``tracking/`` set up (:func:`~mocap3d.tracking.project.init_tracking`), a trial
        split and labelled frames.
    settings : TrainSettings
    cameras : sequence of str, optional
        Only these cameras' models (default all).
    cache_dir : path-like, optional
        Folder of trained models keyed by :func:`model_key`.

    Returns
    -------
    dict of str → TrainedModel
        Camera → its model (cameras sharing a model share the object).
    """
    s = settings or TrainSettings()
    s.check()
    tracking = open_tracking(project)
    cams = list(cameras) if cameras is not None else list(tracking.models)
    names = list(dict.fromkeys(tracking.model_for(c) for c in cams))
    trained: dict[str, TrainedModel] = {}
    for name in names:
        model_dir = tracking.model_dir(name)
        split = image_split(tracking, name)
        cached = None
        if cache_dir is not None:
            cached = cached_model_dir(cache_dir, name, model_dir, split, s)
            if (cached / "config.yaml").is_file():
                log.info("model %s: reusing %s", name, cached)
                _restore(cached, model_dir)
                try:
                    trained[name] = load_model(model_dir)
                    continue
                except InputError:
                    log.warning("cached model %s is incomplete; training again", cached)
        trained[name] = train_model(model_dir, split, s, progress=progress)
        if cached is not None:
            _store(model_dir, cached)
    return {c: trained[tracking.model_for(c)] for c in cams}
