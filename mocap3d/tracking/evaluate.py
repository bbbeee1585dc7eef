"""Evaluating a trained model on its train, test and generalisation images.

The field's method (Mathis et al. 2018; DeepLabCut's ``evaluate_network``): errors on the
training images (how well it fits), on held-out test images (used here to choose the best
snapshot, so slightly optimistic) and on a *generalisation* set — trials never seen while
training or choosing, ideally other animals or sessions — which is the number to report.
Each with and without a p-cutoff (predictions below it are treated as not detected), per
bodypart and overall, plus PCK at fractions of the body length, miss and left/right swap rates
(see :mod:`mocap3d.tracking.metrics`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mocap3d.errors import InputError
from mocap3d.progress import Progress
from mocap3d.tracking.dlcproject import DLCProject, open_dlc_project, png_size
from mocap3d.tracking.infer import Predictor
from mocap3d.tracking.metrics import (
    body_lengths,
    jitter,
    keypoint_errors,
    mae,
    miss_rate,
    pck,
    swap_rate,
)
from mocap3d.tracking.model import TrainedModel
from mocap3d.tracking.project import SPLITS

DEFAULT_PCUTOFF = 0.8
DEFAULT_PCK = (0.05, 0.1, 0.2)
SPLIT_ORDER = SPLITS


@dataclass(frozen=True)
class PredictionSet:
    """Predictions on labelled images.

    Attributes
    ----------
    images : list of str
        ``labeled-data/<video>/<image>.png``.
    true, pred : ndarray, (n_images, n_keypoints, 2)
        Labels and predictions, px (NaN: not labelled / not predicted).
    confidence : ndarray, (n_images, n_keypoints)
    """

    images: list[str]
    true: np.ndarray
    pred: np.ndarray
    confidence: np.ndarray


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of a model.

    Attributes
    ----------
    table : pandas.DataFrame
        Index (split, keypoint) with keypoint ``"all"`` for the overall row; columns
        ``n_labelled``, ``mae_px``, ``n_pcutoff``, ``mae_pcutoff_px``, ``miss_rate`` and
        ``pck@<t>`` for each threshold (fractions of the body length).
    swaps : pandas.DataFrame
        Index (split, pair ``"left|right"``); columns ``swap_rate``, ``n``.
    pcutoff : float
    thresholds : tuple of float
    body_length : (str, str) or None
    predictions : dict of str → PredictionSet
    """

    table: Any
    swaps: Any
    pcutoff: float
    thresholds: tuple[float, ...]
    body_length: tuple[str, str] | None
    predictions: dict[str, PredictionSet] = field(default_factory=dict)

    def overall(self, split: str, column: str = "mae_px") -> float:
        """One overall number, e.g. ``ev.overall("test")`` → test MAE in px."""
        return float(self.table.loc[(split, "all"), column])


def score(
    pred: np.ndarray,
    confidence: np.ndarray,
    true: np.ndarray,
    keypoints: Sequence[str],
    *,
    split: str = "test",
    pcutoff: float = DEFAULT_PCUTOFF,
    thresholds: Sequence[float] = DEFAULT_PCK,
    body_length: tuple[str, str] | None = None,
    left_right: Sequence[tuple[str, str]] = (),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every measure for one set of predictions, as table rows (see :class:`Evaluation`)."""
    errors = keypoint_errors(pred, true)
    labelled = np.isfinite(true).all(axis=-1)
    per, overall, _ = mae(errors)
    per_c, overall_c, counts_c = mae(errors, confidence, pcutoff=pcutoff)
    miss_per, miss_all = miss_rate(labelled, confidence, pcutoff=pcutoff)
    if body_length is not None:
        lengths = body_lengths(true, keypoints, body_length)
        pck_per, pck_all = pck(errors, labelled, lengths, thresholds)
    else:
        pck_per = np.full((len(thresholds), len(keypoints)), np.nan)
        pck_all = np.full(len(thresholds), np.nan)
    rows = []
    for k, kp in enumerate([*keypoints, "all"]):
        last = k == len(keypoints)
        row: dict[str, Any] = {
            "split": split,
            "keypoint": kp,
            "n_labelled": int(labelled.sum() if last else labelled[:, k].sum()),
            "mae_px": overall if last else per[k],
            "n_pcutoff": int(counts_c.sum() if last else counts_c[k]),
            "mae_pcutoff_px": overall_c if last else per_c[k],
            "miss_rate": miss_all if last else miss_per[k],
        }
        for i, t in enumerate(thresholds):
            row[f"pck@{t:g}"] = pck_all[i] if last else pck_per[i, k]
        rows.append(row)
    swaps = [
        {"split": split, "pair": f"{a}|{b}", "swap_rate": rate, "n": n}
        for (a, b), (rate, n) in swap_rate(pred, true, keypoints, left_right).items()
    ]
    return rows, swaps


def _labelled_images(project: DLCProject, images: Sequence[str]) -> tuple[np.ndarray, list[Path]]:
    wanted = set(images)
    xy: dict[str, np.ndarray] = {}
    for labels in project.all_labels().values():
        kp_index = [labels.keypoints.index(b) for b in project.bodyparts]
        for i, img in enumerate(labels.images):
            if img in wanted:
                xy[img] = labels.xy[i][kp_index]
    missing = [i for i in images if i not in xy]
    if missing:
        raise InputError(
            f"{len(missing)} images the model was trained/tested on have no labels in "
            f"{project.labeled_data} any more (e.g. {missing[0]})"
        )
    return np.stack([xy[i] for i in images]), [project.root / i for i in images]


def _read_images(paths: Sequence[Path]) -> Iterator[np.ndarray]:
    import cv2

    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f"labelled image {p} is missing or unreadable")
        yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def predict_images(
    predictor: Predictor,
    project: DLCProject,
    images: Sequence[str],
    *,
    progress: Progress | None = None,
) -> PredictionSet:
    """Run a model on labelled images of a project."""
    true, paths = _labelled_images(project, images)
    for p in paths[:1]:
        size = png_size(p)
        if size is not None:
            predictor.model.check_size(size, what=f"labelled image {p}")
    pred, conf = predictor.predict(_read_images(paths), total=len(paths), progress=progress)
    return PredictionSet(list(images), true, pred, conf)


def evaluate_model(
    model: TrainedModel,
    project: DLCProject | str | Path | None = None,
    *,
    images: Mapping[str, Sequence[str]] | None = None,
    pcutoff: float = DEFAULT_PCUTOFF,
    thresholds: Sequence[float] = DEFAULT_PCK,
    body_length: tuple[str, str] | None = None,
    left_right: Sequence[tuple[str, str]] = (),
    batch_size: int = 8,
    threads: int | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Evaluate a model on its train / test / generalisation images.

    Parameters
    ----------
    model : TrainedModel
    project : DLCProject or path, optional
        The DeepLabCut project holding the labels (default: the model's own).
    images : mapping of split → list of image names, optional
        Default: the split the model was trained with (``mocap3d-model.toml``).
    pcutoff : float
        Confidence below which a prediction counts as not detected (default 0.8).
    thresholds : sequence of float
        PCK thresholds as fractions of the body length.
    body_length : (str, str), optional
        Keypoints whose distance is the body length (the rig's ``skeleton.body_length``);
        without it, PCK columns are NaN.
    left_right : sequence of (str, str)
        Left/right keypoint pairs for swap rates.
    """
    import pandas as pd

    proj = (
        project
        if isinstance(project, DLCProject)
        else open_dlc_project(project or model.project_root)
    )
    model.check_bodyparts(proj.bodyparts, what=f"project {proj.config_path}")
    sets = dict(images) if images is not None else dict(model.images)
    if not any(sets.values()):
        raise InputError(
            f"model {model.train_dir} records no train/test images; pass images= per split"
        )
    predictor = Predictor(model, batch_size=batch_size, threads=threads)
    rows: list[dict[str, Any]] = []
    swaps: list[dict[str, Any]] = []
    predictions = {}
    for split in [s for s in SPLIT_ORDER if sets.get(s)] + [
        s for s in sets if s not in SPLIT_ORDER and sets[s]
    ]:
        ps = predict_images(predictor, proj, list(sets[split]), progress=progress)
        predictions[split] = ps
        r, sw = score(
            ps.pred,
            ps.confidence,
            ps.true,
            proj.bodyparts,
            split=split,
            pcutoff=pcutoff,
            thresholds=thresholds,
            body_length=body_length,
            left_right=left_right,
        )
        rows += r
        swaps += sw
    table = pd.DataFrame(rows).set_index(["split", "keypoint"])
    swap_table = (
        pd.DataFrame(swaps).set_index(["split", "pair"])
        if swaps
        else pd.DataFrame(columns=["swap_rate", "n"])
    )
    return Evaluation(
        table, swap_table, pcutoff, tuple(thresholds), body_length, predictions=predictions
    )


def track_jitter(
    ds: Any,
    *,
    window: int = 5,
    threshold_px: float = 3.0,
    pcutoff: float = DEFAULT_PCUTOFF,
    trial: str = "",
) -> list[dict[str, Any]]:
    """Jitter and detection rate of tracked videos (no labels needed).

    Parameters
    ----------
    ds : xarray.Dataset
        poses2d of one trial (any number of views).
    window : int
        Running-median window, frames (odd).
    threshold_px : float
        Deviation from the running median counted as a jitter event.
    pcutoff : float
        Points below it count as not detected (and are left out of the jitter).

    Returns
    -------
    list of dict
        One row per view and keypoint: ``jitter_rms_px``, ``jitter_rate`` (fraction of
        detected frames deviating more than ``threshold_px``) and ``detected`` (fraction of
        frames with confidence ≥ ``pcutoff``).
    """
    rows = []
    for view in [str(v) for v in ds.view.values]:
        one = ds.sel(view=view).isel(individual=0)
        xy = one.position.transpose("time", "keypoint", "space").values.copy()
        conf = one.confidence.transpose("time", "keypoint").values
        ok = np.nan_to_num(conf, nan=-1.0) >= pcutoff
        xy[~ok] = np.nan
        rms, rate = jitter(xy, window=window, threshold_px=threshold_px)
        for k, kp in enumerate([str(k) for k in one.keypoint.values]):
            rows.append(
                {
                    "trial": trial,
                    "view": view,
                    "keypoint": kp,
                    "jitter_rms_px": float(rms[k]),
                    "jitter_rate": float(rate[k]),
                    "detected": float(ok[:, k].mean()) if len(ok) else float("nan"),
                }
            )
    return rows
