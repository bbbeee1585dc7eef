"""Training a DeepLabCut (PyTorch) network offline, from random or local weights.

DeepLabCut's ``train_network`` downloads ImageNet backbone weights unless it is handed a
snapshot to start from. :func:`train_model` always hands it one: a randomly initialised
network (``pretrained_backbone=False``) or one built from a weights file you name (a
DeepLabCut snapshot or a backbone ``state_dict``) — never a download. The training/test split
is yours (whole trials, see :mod:`mocap3d.tracking.project`); DeepLabCut evaluates on the test
images every ``eval_interval`` epochs and keeps the snapshot with the lowest test error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mocap3d.errors import InputError
from mocap3d.progress import Progress, report
from mocap3d.tracking._engine import dlc_session, import_deeplabcut, torch_load
from mocap3d.tracking.dlcproject import (
    DEFAULT_NET,
    DLCProject,
    folder_image_size,
    open_dlc_project,
    repair_project,
)
from mocap3d.tracking.dlcproject import update_dlc_config as _update_cfg
from mocap3d.tracking.model import POSE_CONFIG, TrainedModel, file_id, save_model, snapshots
from mocap3d.tracking.project import SPLITS, SplitName

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    """How to train.

    Attributes
    ----------
    net_type : str
        DeepLabCut network (``cspnext_s``, small enough to train on a CPU; ``resnet_50``,
        ``hrnet_w18`` … are much slower there).
    epochs : int
    crop_size : int
        Side of the square training crops (px); smaller trains faster.
    batch_size : int
    learning_rate : float
        AdamW's initial rate; divided by 5 at 70 % and by 50 at 90 % of the epochs.
    weights : Path, optional
        Local weights to start from (a DeepLabCut snapshot or a backbone ``state_dict``);
        None: random initialisation. Never downloaded.
    load_head_weights : bool
        Also take the heads from ``weights`` (it must have been trained on the same
        bodyparts); else only the backbone.
    eval_interval : int
        Epochs between evaluations on the test split (the best snapshot is kept).
    augment : {"default", "light", "none"}
        DeepLabCut's augmentation; ``light`` keeps rotations within ±15° and scale within
        ±10 %, which suits fixed cameras.
    seed : int
    threads : int, optional
        torch threads (default ``$OMP_NUM_THREADS`` or the number of cores).
    """

    net_type: str = DEFAULT_NET
    epochs: int = 60
    crop_size: int = 256
    batch_size: int = 8
    learning_rate: float = 1e-3
    weights: Path | None = None
    load_head_weights: bool = False
    eval_interval: int = 5
    augment: str = "light"
    seed: int = 42
    threads: int | None = None

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_interval < 1:
            raise InputError("epochs, batch_size and eval_interval must be ≥ 1")
        if self.crop_size < 32:
            raise InputError(f"crop_size must be ≥ 32 px, found {self.crop_size}")
        if self.augment not in ("default", "light", "none"):
            raise InputError(f"augment must be default, light or none, not {self.augment!r}")
        if self.weights is not None and not Path(self.weights).is_file():
            raise InputError(
                f"weights file {self.weights} does not exist; give a local .pt file (a "
                "DeepLabCut snapshot or backbone state_dict), or none to start from random "
                "weights — mocap3d never downloads weights"
            )


def _cfg_updates(s: TrainSettings, has_test: bool) -> dict[str, Any]:
    ups: dict[str, Any] = {
        "data.train.crop_sampling": {
            "width": s.crop_size,
            "height": s.crop_size,
            "max_shift": 0.1,
            "method": "hybrid",
        },
        "runner.key_metric": "test.rmse",
        "runner.key_metric_asc": False,
        "runner.eval_interval": s.eval_interval if has_test else s.epochs + 1,
        "runner.snapshots.save_epochs": s.epochs,
        "runner.snapshots.max_snapshots": 2,
        "runner.optimizer.params.lr": s.learning_rate,
        "runner.scheduler.params.milestones": [
            max(1, round(0.7 * s.epochs)),
            max(2, round(0.9 * s.epochs)),
        ],
        "runner.scheduler.params.lr_list": [[s.learning_rate / 5], [s.learning_rate / 50]],
        "train_settings.seed": s.seed,
        "train_settings.dataloader_workers": 0,
        "device": "cpu",
    }
    if s.augment == "light":
        ups["data.train.affine"] = {
            "p": 0.5,
            "rotation": 15,
            "scaling": [0.9, 1.1],
            "translation": 0,
        }
        ups["data.train.motion_blur"] = False
    elif s.augment == "none":
        ups["data.train.affine"] = None
        ups["data.train.motion_blur"] = False
        ups["data.train.gaussian_noise"] = False
    return ups


def _next_shuffle(project: DLCProject) -> int:
    used = [0]
    for p in project.root.glob("dlc-models-pytorch/iteration-*/*shuffle*"):
        tail = p.name.rsplit("shuffle", 1)[-1]
        if tail.isdigit():
            used.append(int(tail))
    return max(used) + 1


def _image_key(index: Any) -> str:
    return "/".join(map(str, index)) if isinstance(index, tuple) else str(index).replace("\\", "/")


def _image_sizes(project: DLCProject, images: list[str]) -> list[tuple[int, int]]:
    stems = sorted({i.split("/")[1] for i in images if i.count("/") == 2})
    sizes = {folder_image_size(project.root / "labeled-data" / stem) for stem in stems}
    return sorted(s for s in sizes if s is not None)


def _state_dict(path: Path) -> dict[str, Any]:
    loaded = torch_load(path)
    state = loaded.get("model", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not state:
        raise InputError(
            f"weights file {path} holds no state_dict; give a DeepLabCut snapshot "
            "({'model': state_dict}) or a backbone state_dict saved with torch.save"
        )
    return state


def _initial_weights(pose_config: Path, s: TrainSettings, out: Path) -> str:
    """Write the starting weights to ``out``; returns where they came from."""
    import torch
    from deeplabcut.core.config import read_config_as_dict
    from deeplabcut.pose_estimation_pytorch.models.model import PoseModel

    torch.manual_seed(s.seed)
    model = PoseModel.build(read_config_as_dict(pose_config)["model"], pretrained_backbone=False)
    source = "random"
    if s.weights is not None:
        path = Path(s.weights)
        state = _state_dict(path)
        try:
            if s.load_head_weights:
                model.load_state_dict(state)
            else:
                if any(k.startswith("backbone.") for k in state):
                    backbone = {
                        k.removeprefix("backbone."): v
                        for k, v in state.items()
                        if k.startswith("backbone.")
                    }
                else:  # a bare backbone state_dict
                    backbone = state
                model.backbone.load_state_dict(backbone)
        except RuntimeError as exc:
            what = "network and bodyparts" if s.load_head_weights else "backbone"
            first = str(exc).splitlines()[0]
            raise InputError(
                f"weights file {path} does not fit a {s.net_type} {what}: {first}; give "
                f"weights of a {s.net_type} network"
                + (" trained on the same bodyparts" if s.load_head_weights else "")
            ) from None
        source = f"{path} (sha256 {file_id(path)})"
    torch.save({"model": model.state_dict()}, out)
    return source


def train_model(
    project: str | Path | DLCProject,
    split: Mapping[str, SplitName],
    settings: TrainSettings | None = None,
    *,
    shuffle: int | None = None,
    purpose: str = "model",
    progress: Progress | None = None,
) -> TrainedModel:
    """Train one network of a DeepLabCut project on the labelled images of ``split``.

    Parameters
    ----------
    project : path-like or DLCProject
        The DeepLabCut project (its folder or ``config.yaml``).
    split : mapping of str → {"train", "test", "generalisation"}
        Every labelled image ``labeled-data/<video>/<image>.png`` → its split (see
        :func:`mocap3d.tracking.labels.image_split`). Images not in the mapping are not used.
    settings : TrainSettings
    shuffle : int, optional
        DeepLabCut shuffle number; default the next unused one.
    purpose : str
        Recorded in ``mocap3d-model.toml``; :func:`~mocap3d.tracking.model.load_model` on a
        project picks the latest model with purpose ``"model"`` (learning-curve runs use
        ``"learning_curve"``).
    progress : callable, optional
        Called with (epoch, epochs, "train <task>").

    Returns
    -------
    TrainedModel
        With the best snapshot on the test split (the last one if there are no test
        images), recorded in ``mocap3d-model.toml``.
    """
    s = settings or TrainSettings()
    s.check()
    proj = project if isinstance(project, DLCProject) else open_dlc_project(project)
    proj = repair_project(proj)
    proj.all_labels()  # raises with a clear message if nothing is labelled
    dlc = import_deeplabcut()
    if s.weights is not None:
        _state_dict(Path(s.weights))  # unreadable weights: fail before creating anything
    from deeplabcut.generate_training_dataset.trainingsetmanipulation import (
        merge_annotateddatasets,
    )
    from deeplabcut.utils.auxiliaryfunctions import get_model_folder, get_training_set_folder

    task = str(proj.cfg["Task"])
    label = f"train {task}"
    t0 = time.perf_counter()
    with dlc_session(threads=s.threads):
        folder = proj.root / get_training_set_folder(proj.cfg)
        folder.mkdir(parents=True, exist_ok=True)
        merged = merge_annotateddatasets(proj.cfg, folder)
    if merged is None or len(merged) == 0:
        raise InputError(f"DeepLabCut found no labels in {proj.labeled_data}")
    keys = [_image_key(i) for i in merged.index]
    names = {k: split.get(k) for k in keys}
    train_idx = [i for i, k in enumerate(keys) if names[k] == "train"]
    test_idx = [i for i, k in enumerate(keys) if names[k] == "test"]
    if not train_idx:
        raise InputError(
            f"no labelled training images in {proj.labeled_data} for this split; label "
            "frames of the training trials (or change the split)"
        )
    images: dict[str, list[str]] = {n: [k for k in keys if names[k] == n] for n in SPLITS}
    # DeepLabCut cannot train without test images; without any, one training image stands in
    # (never evaluated: eval_interval > epochs) and the last snapshot is kept
    dlc_test_idx = test_idx or train_idx[:1]
    fraction = round(len(train_idx) / (len(train_idx) + len(dlc_test_idx)), 2)
    fractions = [float(f) for f in proj.cfg.get("TrainingFraction") or []]
    if fraction not in fractions:
        fractions.append(fraction)
        proj = DLCProject(
            proj.config_path, _update_cfg(proj.config_path, TrainingFraction=fractions)
        )
    shuffle = shuffle or _next_shuffle(proj)
    model_folder = get_model_folder(fraction, shuffle, proj.cfg, engine=dlc.Engine.PYTORCH)
    if snapshots(proj.root / model_folder / "train"):
        raise InputError(
            f"shuffle {shuffle} of {proj.config_path} is already trained "
            f"({proj.root / model_folder}); choose another shuffle (default: the next free one)"
        )
    with dlc_session(threads=s.threads):
        dlc.create_training_dataset(
            str(proj.config_path),
            Shuffles=[shuffle],
            trainIndices=[train_idx],
            testIndices=[dlc_test_idx],
            net_type=s.net_type,
            userfeedback=False,
            engine=dlc.Engine.PYTORCH,
        )
    train_dir = proj.root / model_folder / "train"
    if not (train_dir / POSE_CONFIG).is_file():
        raise InputError(f"DeepLabCut did not create {train_dir / POSE_CONFIG}")
    init = train_dir / "mocap3d-init.pt"

    def on_epoch(epoch: int, total: int) -> None:
        report(progress, epoch, total, label)

    report(progress, 0, s.epochs, label)
    log_file = train_dir / "train.txt"
    with dlc_session(threads=s.threads, on_epoch=on_epoch, log_file=log_file) as metrics:
        source = _initial_weights(train_dir / POSE_CONFIG, s, init)
        _run_training(
            proj.config_path,
            shuffle=shuffle,
            trainset_index=fractions.index(fraction),
            init=init,
            updates={
                **_cfg_updates(s, bool(test_idx)),
                "train_settings.epochs": s.epochs,
                "train_settings.batch_size": s.batch_size,
            },
        )
    init.unlink(missing_ok=True)
    snaps = snapshots(train_dir)
    if not snaps:
        raise InputError(f"training wrote no snapshot into {train_dir}")
    best = snaps[-1]
    test_rmse = {e: m["test.rmse"] for e, m in metrics.items() if "test.rmse" in m}
    model = TrainedModel(
        train_dir=train_dir,
        snapshot=best,
        model_id=file_id(best),
        bodyparts=proj.bodyparts,
        net_type=s.net_type,
        image_sizes=_image_sizes(proj, keys),
        images=images,
        training={
            **{k: v for k, v in asdict(s).items() if k not in ("weights", "threads")},
            "purpose": purpose,
            "initial_weights": source,
            "shuffle": shuffle,
            "trainingset_index": fractions.index(fraction),
            "seconds": round(time.perf_counter() - t0, 1),
            "n_train": len(train_idx),
            "n_test": len(test_idx),
            "dlc_test_rmse_px": {str(e): round(float(v), 3) for e, v in test_rmse.items()},
            "best_epoch": _epoch_of(best),
        },
    )
    save_model(model)
    return model


def _run_training(
    config: Path, *, shuffle: int, trainset_index: int, init: Path, updates: dict[str, Any]
) -> None:
    """DeepLabCut's ``train_network`` for a bottom-up pose model, without its logging set-up
    (which replaces every root-logger handler) and always from the given weights."""
    from deeplabcut.pose_estimation_pytorch import utils
    from deeplabcut.pose_estimation_pytorch.apis.training import train
    from deeplabcut.pose_estimation_pytorch.data import DLCLoader
    from deeplabcut.pose_estimation_pytorch.task import Task

    loader = DLCLoader(config=str(config), shuffle=shuffle, trainset_index=trainset_index)
    for key, value in updates.items():
        loader.model_cfg.set_nested(key, value)
    loader.model_cfg.to_yaml(loader.model_config_path)
    utils.fix_seeds(loader.model_cfg["train_settings"]["seed"])
    task = Task(loader.model_cfg.get("method", "bu"))
    if task != Task.BOTTOM_UP:
        raise InputError(f"{loader.model_config_path}: mocap3d trains bottom-up models only")
    train(
        loader=loader,
        run_config=loader.model_cfg,
        task=task,
        device="cpu",
        snapshot_path=str(init),
        load_head_weights=True,
    )


def _epoch_of(snapshot: Path) -> int:
    digits = "".join(ch for ch in snapshot.stem.rsplit("-", 1)[-1] if ch.isdigit())
    return int(digits) if digits else -1


def frames_per_video_subset(split: Mapping[str, SplitName], n: int) -> dict[str, SplitName]:
    """Keep at most ``n`` training images per video (for learning curves); test and
    generalisation images are all kept. The kept images are spread evenly over each video's
    labelled images in image order, so a smaller subset is part of a larger one only when
    the spacing allows it; the choice is deterministic."""
    by_video: dict[str, list[str]] = {}
    for img, name in split.items():
        if name == "train":
            by_video.setdefault(img.rsplit("/", 1)[0], []).append(img)
    keep: set[str] = set()
    for imgs in by_video.values():
        imgs = sorted(imgs)
        if n >= len(imgs):
            keep.update(imgs)
        else:
            idx = np.unique(np.round(np.linspace(0, len(imgs) - 1, n)).astype(int))
            keep.update(imgs[i] for i in idx)
    return {img: name for img, name in split.items() if name != "train" or img in keep}
