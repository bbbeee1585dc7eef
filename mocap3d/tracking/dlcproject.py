"""DeepLabCut project folders: writing, reading and repairing ``config.yaml``.

A DeepLabCut project is a folder with ``config.yaml``, ``videos/``, ``labeled-data/<video>/``
(images + ``CollectedData_<scorer>.h5``), ``training-datasets/`` and ``dlc-models-pytorch/``.
mocap3d writes ``config.yaml`` itself (no DeepLabCut import, deterministic folder names: the
project folder is whatever you name it, unlike ``deeplabcut.create_new_project`` which names it
``<task>-<experimenter>-<date>``) with the same keys DeepLabCut 3.0 writes, so the projects
open in DeepLabCut's GUI and DeepLabCut's own functions work on them.

Projects made elsewhere (e.g. with DeepLabCut's GUI) are read as they are; :func:`repair_project`
points ``project_path`` at the folder's real location and lists every labelled video folder
in ``video_sets`` (what DeepLabCut's example projects leave as placeholders).
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mocap3d.errors import InputError
from mocap3d.io.atomic import write_text_atomic
from mocap3d.io.dlc import LabelledFrames, read_collected_data

log = logging.getLogger(__name__)

CONFIG = "config.yaml"
DEFAULT_NET = "cspnext_s"
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _yaml() -> Any:
    import yaml

    return yaml


def write_dlc_config(
    folder: str | Path,
    *,
    task: str,
    scorer: str,
    bodyparts: Sequence[str],
    skeleton: Sequence[tuple[str, str]] = (),
    video_sets: Mapping[str, tuple[int, int]] | None = None,
    net_type: str = DEFAULT_NET,
    pcutoff: float = 0.8,
    date: str | None = None,
) -> Path:
    """Create a single-animal DeepLabCut 3 (PyTorch engine) project folder and its config.

    Parameters
    ----------
    folder : path-like
        The project folder (created; must not already hold a ``config.yaml``).
    task, scorer : str
        DeepLabCut's ``Task`` and ``scorer`` (labeller) names.
    bodyparts : sequence of str
        Keypoint names, in the order the network outputs them.
    skeleton : sequence of (str, str)
        Bones, for DeepLabCut's plots.
    video_sets : mapping of video path → (width, height), optional
        Videos whose ``labeled-data/<stem>/`` folders hold labels.
    net_type : str
        ``default_net_type`` (e.g. ``cspnext_s``, ``resnet_50``, ``hrnet_w18``).

    Returns
    -------
    Path
        The ``config.yaml`` written.
    """
    folder = Path(folder).absolute()
    path = folder / CONFIG
    if path.exists():
        raise InputError(f"{path} already exists; open the project or choose another folder")
    if not bodyparts:
        raise InputError(f"DeepLabCut project {folder}: give at least one bodypart")
    for sub in ("videos", "labeled-data", "training-datasets", "dlc-models-pytorch"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    today = _dt.date.today()
    cfg: dict[str, Any] = {
        "Task": task,
        "scorer": scorer,
        "date": date or f"{_MONTHS[today.month - 1]}{today.day}",
        "multianimalproject": False,
        "identity": None,
        "project_path": str(folder),
        "engine": "pytorch",
        "video_sets": {},
        "bodyparts": list(bodyparts),
        "start": 0,
        "stop": 1,
        "numframes2pick": 20,
        "skeleton": [list(b) for b in skeleton],
        "skeleton_color": "black",
        "pcutoff": float(pcutoff),
        "dotsize": 8,
        "alphavalue": 0.7,
        "colormap": "rainbow",
        "TrainingFraction": [0.8],
        "iteration": 0,
        "default_net_type": net_type,
        "default_augmenter": "albumentations",
        "snapshotindex": -1,
        "detector_snapshotindex": -1,
        "batch_size": 8,
        "detector_batch_size": 1,
        "cropping": False,
        "x1": 0,
        "x2": 640,
        "y1": 0,
        "y2": 480,
        "corner2move2": [50, 50],
        "move2corner": True,
    }
    for video, size in (video_sets or {}).items():
        cfg["video_sets"][str(video)] = {"crop": f"0, {int(size[0])}, 0, {int(size[1])}"}
    _write(path, cfg)
    return path


def _write(path: Path, cfg: Mapping[str, Any]) -> None:
    text = _yaml().safe_dump(dict(cfg), sort_keys=False, default_flow_style=None)
    write_text_atomic(path, text)


def read_dlc_config(path: str | Path) -> dict[str, Any]:
    """Read a DeepLabCut ``config.yaml`` (a project folder or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG
    if not path.is_file():
        raise InputError(
            f"{path} does not exist: expected a DeepLabCut project's config.yaml "
            "(create one with `mocap3d track init`)"
        )
    try:
        cfg = _yaml().safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path} is not readable YAML: {exc}") from None
    if not isinstance(cfg, dict):
        raise InputError(f"{path} is not a DeepLabCut config (no top-level mapping)")
    missing = [k for k in ("Task", "scorer", "date", "bodyparts") if k not in cfg]
    if missing:
        raise InputError(f"{path} lacks DeepLabCut config keys {missing}; is it a config.yaml?")
    if cfg.get("multianimalproject"):
        raise InputError(f"{path} is a multi-animal project; mocap3d trains one animal per video")
    return cfg


def update_dlc_config(path: str | Path, **changes: Any) -> dict[str, Any]:
    """Change top-level keys of a ``config.yaml`` (written atomically); returns the result."""
    path = Path(path)
    cfg = read_dlc_config(path)
    cfg.update(changes)
    _write(path if path.is_file() else path / CONFIG, cfg)
    return cfg


@dataclass(frozen=True)
class DLCProject:
    """A DeepLabCut project folder, as mocap3d sees it.

    Attributes
    ----------
    config_path : Path
    cfg : dict
        The parsed ``config.yaml``.
    """

    config_path: Path
    cfg: dict[str, Any]

    @property
    def root(self) -> Path:
        return self.config_path.parent

    @property
    def scorer(self) -> str:
        return str(self.cfg["scorer"])

    @property
    def bodyparts(self) -> list[str]:
        return [str(b) for b in self.cfg["bodyparts"]]

    @property
    def labeled_data(self) -> Path:
        return self.root / "labeled-data"

    def video_stems(self) -> list[str]:
        """Labelled-video folder names (``labeled-data/<stem>``) that hold this scorer's labels."""
        if not self.labeled_data.is_dir():
            return []
        return sorted(
            p.name
            for p in self.labeled_data.iterdir()
            if (p / f"CollectedData_{self.scorer}.h5").is_file()
        )

    def labels(self, stem: str) -> LabelledFrames:
        """The labels of one video folder (DeepLabCut's ``CollectedData_<scorer>.h5``)."""
        return read_collected_data(self.labeled_data / stem / f"CollectedData_{self.scorer}.h5")

    def all_labels(self) -> dict[str, LabelledFrames]:
        """Labels of every labelled video, checked against the project's bodyparts.

        Raises
        ------
        InputError
            If no video has labels, or a labels file lacks bodyparts of the project.
        """
        out = {}
        for stem in self.video_stems():
            labels = self.labels(stem)
            missing = [b for b in self.bodyparts if b not in labels.keypoints]
            if missing:
                raise InputError(
                    f"{self.labeled_data / stem}: labels lack bodyparts {missing} of "
                    f"{self.config_path}; label them or remove them from config.yaml"
                )
            out[stem] = labels
        if not any(_has_points(lab) for lab in out.values()):
            raise InputError(
                f"no labelled frames in {self.labeled_data}: expected "
                f"labeled-data/<video>/CollectedData_{self.scorer}.h5 with at least one "
                "labelled point; extract frames (`mocap3d track extract`) and label them"
            )
        return out


def _has_points(labels: LabelledFrames) -> bool:
    import numpy as np

    return bool(np.isfinite(labels.xy).any())


def open_dlc_project(path: str | Path) -> DLCProject:
    """Open a DeepLabCut project (its folder or its ``config.yaml``)."""
    path = Path(path)
    config_path = path / CONFIG if path.is_dir() else path
    return DLCProject(config_path.absolute(), read_dlc_config(config_path))


def repair_project(project: DLCProject) -> DLCProject:
    """Point ``project_path`` at the real folder and list every labelled video in
    ``video_sets`` (DeepLabCut builds training sets from ``video_sets`` only); entries whose
    video is missing and that have no labelled-data folder (placeholders) are dropped."""
    cfg = dict(project.cfg)
    changed: dict[str, Any] = {}
    if Path(str(cfg.get("project_path", ""))).absolute() != project.root:
        changed["project_path"] = str(project.root)
    sets = dict(cfg.get("video_sets") or {})
    gone = [
        v
        for v in sets
        if not Path(str(v)).exists() and not (project.labeled_data / Path(str(v)).stem).is_dir()
    ]
    if gone:  # placeholders and videos that are neither here nor labelled
        sets = {k: v for k, v in sets.items() if k not in gone}
        changed["video_sets"] = sets
    have = {Path(str(v)).stem for v in sets}
    for stem in project.video_stems():
        if stem not in have:
            size = folder_image_size(project.labeled_data / stem) or (640, 480)
            sets[str(project.root / "videos" / f"{stem}.mp4")] = {
                "crop": f"0, {size[0]}, 0, {size[1]}"
            }
            changed["video_sets"] = sets
    if not changed:
        return project
    log.info("repairing %s: %s", project.config_path, ", ".join(changed))
    cfg.update(changed)
    _write(project.config_path, cfg)
    return DLCProject(project.config_path, cfg)


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of an image file, None if it cannot be read."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return None if img is None else (int(img.shape[1]), int(img.shape[0]))


def folder_image_size(folder: Path) -> tuple[int, int] | None:
    """Size of the first readable PNG of a labelled-data folder (None without one)."""
    return next((s for p in sorted(folder.glob("*.png")) if (s := png_size(p))), None)
