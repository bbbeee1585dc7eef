"""Accuracy measures of 2D keypoint predictions, as pure functions on arrays.

Shapes: ``pred`` and ``true`` are ``(n_images, n_keypoints, 2)`` pixel coordinates, NaN where
a keypoint was not predicted / not labelled (not visible); ``confidence`` is
``(n_images, n_keypoints)``. Only labelled keypoints count in every measure.

- **MAE** — mean Euclidean distance (px) between prediction and label, over labelled
  keypoints (DeepLabCut calls the same number "RMSE"). A labelled keypoint without a
  prediction has no distance: it counts as a *miss*, not in the MAE. With a p-cutoff,
  predictions below it are left out too (DeepLabCut's "error with p-cutoff").
- **PCK@t** — fraction of labelled keypoints predicted within ``t × body length``, the body
  length measured per image between two labelled keypoints of the rig; missing predictions
  count as failures.
- **miss rate** — labelled keypoints predicted with confidence below the p-cutoff (or not at
  all).
- **left/right swap rate** — among images where both keypoints of a left/right pair are
  labelled and predicted, the fraction where the crossed assignment is closer than the
  direct one.
- **jitter** — on a tracked video, the RMS distance (px) between each track and its running
  median; and the rate of frames where that distance exceeds a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mocap3d.errors import InputError
from mocap3d.timeseries import running_median


def _check_pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise InputError(
            f"predictions {pred.shape} and labels {true.shape} must both be "
            "(n_images, n_keypoints, 2)"
        )
    return pred, true


def keypoint_errors(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Euclidean distance per image and keypoint, ``(n_images, n_keypoints)`` px; NaN where
    the label or the prediction is missing."""
    pred, true = _check_pair(pred, true)
    return np.linalg.norm(pred - true, axis=-1)


def _cutoff(errors: np.ndarray, confidence: np.ndarray | None, pcutoff: float | None) -> np.ndarray:
    if pcutoff is None:
        return errors
    if confidence is None:
        raise InputError("a p-cutoff needs the predictions' confidence")
    conf = np.asarray(confidence, dtype=np.float64)
    if conf.shape != errors.shape:
        raise InputError(f"confidence {conf.shape} must match errors {errors.shape}")
    return np.where(conf >= pcutoff, errors, np.nan)


def mae(
    errors: np.ndarray,
    confidence: np.ndarray | None = None,
    *,
    pcutoff: float | None = None,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Mean absolute (Euclidean) error per keypoint and overall.

    Parameters
    ----------
    errors : ndarray, (n_images, n_keypoints)
        From :func:`keypoint_errors`.
    confidence : ndarray, (n_images, n_keypoints), optional
    pcutoff : float, optional
        Leave out predictions with confidence below it.

    Returns
    -------
    per_keypoint : ndarray, (n_keypoints,)
        px; NaN for a keypoint with no counted point.
    overall : float
        Mean over all counted points (not the mean of the per-keypoint means); NaN if none.
    counts : ndarray, (n_keypoints,) int
        Points counted per keypoint.
    """
    e = _cutoff(np.asarray(errors, dtype=np.float64), confidence, pcutoff)
    ok = np.isfinite(e)
    counts = ok.sum(axis=0)
    sums = np.where(ok, e, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    overall = float(sums.sum() / counts.sum()) if counts.sum() else float("nan")
    return per, overall, counts


def body_lengths(true: np.ndarray, keypoints: Sequence[str], pair: tuple[str, str]) -> np.ndarray:
    """Distance between the two ``pair`` keypoints in each labelled image, ``(n_images,)`` px.

    Images where either is unlabelled get the median over the other images.
    """
    missing = [k for k in pair if k not in keypoints]
    if missing:
        raise InputError(f"body-length keypoints {missing} are not among {list(keypoints)}")
    true = np.asarray(true, dtype=np.float64)
    a, b = (list(keypoints).index(k) for k in pair)
    lengths = np.linalg.norm(true[:, a] - true[:, b], axis=-1)
    ok = np.isfinite(lengths) & (lengths > 0)
    if not ok.any():
        raise InputError(
            f"no image has both body-length keypoints {pair} labelled; label them or choose "
            "another skeleton.body_length"
        )
    return np.where(ok, lengths, np.median(lengths[ok]))


def pck(
    errors: np.ndarray, labelled: np.ndarray, lengths: np.ndarray, thresholds: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Percentage of correct keypoints at thresholds relative to body length.

    Parameters
    ----------
    errors : ndarray, (n_images, n_keypoints)
        NaN where not predicted (counts as incorrect) or not labelled (not counted).
    labelled : ndarray of bool, (n_images, n_keypoints)
    lengths : ndarray, (n_images,)
        Body length per image, px.
    thresholds : sequence of float
        Fractions of the body length.

    Returns
    -------
    per_keypoint : ndarray, (n_thresholds, n_keypoints)
        Fraction in [0, 1]; NaN for a keypoint never labelled.
    overall : ndarray, (n_thresholds,)
    """
    e = np.asarray(errors, dtype=np.float64)
    lab = np.asarray(labelled, dtype=bool)
    n = lab.sum(axis=0)
    per = np.full((len(thresholds), e.shape[1]), np.nan)
    overall = np.full(len(thresholds), np.nan)
    for i, t in enumerate(thresholds):
        hit = lab & np.isfinite(e) & (e <= t * np.asarray(lengths)[:, None])
        with np.errstate(invalid="ignore", divide="ignore"):
            per[i] = np.where(n > 0, hit.sum(axis=0) / np.maximum(n, 1), np.nan)
        overall[i] = hit.sum() / lab.sum() if lab.sum() else np.nan
    return per, overall


def miss_rate(
    labelled: np.ndarray, confidence: np.ndarray, *, pcutoff: float
) -> tuple[np.ndarray, float]:
    """Fraction of labelled keypoints predicted below ``pcutoff`` (or not at all).

    Returns per keypoint ``(n_keypoints,)`` (NaN if never labelled) and overall.
    """
    lab = np.asarray(labelled, dtype=bool)
    conf = np.asarray(confidence, dtype=np.float64)
    missed = lab & ~(np.nan_to_num(conf, nan=-1.0) >= pcutoff)
    n = lab.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(n > 0, missed.sum(axis=0) / np.maximum(n, 1), np.nan)
    overall = float(missed.sum() / lab.sum()) if lab.sum() else float("nan")
    return per, overall


def swap_rate(
    pred: np.ndarray,
    true: np.ndarray,
    keypoints: Sequence[str],
    pairs: Sequence[tuple[str, str]],
) -> dict[tuple[str, str], tuple[float, int]]:
    """Rate of left/right swaps per pair: ``{(left, right): (rate, n_images_counted)}``.

    An image counts when both keypoints are labelled and predicted; it is a swap when
    ``|pL − tR| + |pR − tL| < |pL − tL| + |pR − tR|``.
    """
    pred, true = _check_pair(pred, true)
    out = {}
    kps = list(keypoints)
    for left, right in pairs:
        if left not in kps or right not in kps:
            raise InputError(f"left/right pair {(left, right)} is not among keypoints {kps}")
        a, b = kps.index(left), kps.index(right)
        direct = np.linalg.norm(pred[:, a] - true[:, a], axis=-1) + np.linalg.norm(
            pred[:, b] - true[:, b], axis=-1
        )
        crossed = np.linalg.norm(pred[:, a] - true[:, b], axis=-1) + np.linalg.norm(
            pred[:, b] - true[:, a], axis=-1
        )
        ok = np.isfinite(direct) & np.isfinite(crossed)
        n = int(ok.sum())
        rate = float(np.sum(crossed[ok] < direct[ok]) / n) if n else float("nan")
        out[(left, right)] = (rate, n)
    return out


def jitter(
    xy: np.ndarray, *, window: int = 5, threshold_px: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Frame-to-frame jitter of tracks.

    Parameters
    ----------
    xy : ndarray, (n_frames, n_keypoints, 2)
        Tracked positions, px; NaN where not tracked.
    window : int
        Running-median window (frames, odd).
    threshold_px : float
        Deviation from the running median that counts as a jitter event.

    Returns
    -------
    rms_px : ndarray, (n_keypoints,)
        RMS distance between the track and its running median (NaN if never tracked).
    rate : ndarray, (n_keypoints,)
        Fraction of tracked frames deviating more than ``threshold_px``.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 3 or xy.shape[-1] != 2:
        raise InputError(f"tracks must be (n_frames, n_keypoints, 2), found {xy.shape}")
    dev = np.linalg.norm(xy - running_median(xy, window), axis=-1)
    ok = np.isfinite(dev)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.where(
            n > 0, np.sqrt(np.where(ok, dev**2, 0).sum(axis=0) / np.maximum(n, 1)), np.nan
        )
        rate = np.where(n > 0, (ok & (dev > threshold_px)).sum(axis=0) / np.maximum(n, 1), np.nan)
    return rms, rate
