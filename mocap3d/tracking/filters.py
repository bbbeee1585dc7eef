"""2D filters on poses2d datasets: pure functions that return a new dataset and a report.

Each filter works on every view, keypoint and individual independently along ``time`` and
reports how many points it changed (moved, removed = set to NaN, or filled), so a pipeline
can say what its clean-up did:

- :func:`median_filter` — running median of x and y (NaN-aware; missing points stay missing).
- :func:`confidence_filter` — positions below a confidence threshold become NaN.
- :func:`jump_filter` — points farther than ``max_jump_px`` from the running median of their
  track become NaN; then gaps of at most ``max_gap`` frames are interpolated.
- :func:`interpolate_gaps` — linear interpolation of short NaN gaps (bounded on both sides).
- :func:`left_right_filter` — left/right limb swaps corrected from temporal continuity.

Interpolated points get the lower confidence of the two points bounding their gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from mocap3d.datasets import validate_poses2d
from mocap3d.errors import InputError
from mocap3d.timeseries import bounding_frames, fill_linear, running_median, short_gaps

_DIMS = ("time", "view", "keypoint", "individual", "space")


@dataclass(frozen=True)
class FilterReport:
    """What a filter did.

    Attributes
    ----------
    filter : str
    changed : int
        Points (view × frame × keypoint × individual) whose position changed in any way.
    removed : int
        Points set to NaN.
    filled : int
        Missing points given a position.
    per_keypoint : dict of str → int
        ``changed`` by keypoint.
    params : dict
    """

    filter: str
    changed: int
    removed: int = 0
    filled: int = 0
    per_keypoint: dict[str, int] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = "".join(
            f", {n} {what}" for n, what in ((self.removed, "removed"), (self.filled, "filled")) if n
        )
        return f"{self.filter}: {self.changed} points changed{extra}"


def _arrays(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """position (time, view, keypoint, individual, space), confidence (time, v, k, i)."""
    ds = validate_poses2d(ds)
    pos = np.array(ds.position.transpose(*_DIMS).values, dtype=np.float64, order="C")
    conf = np.array(ds.confidence.transpose(*_DIMS[:-1]).values, dtype=np.float64, order="C")
    return pos, conf


def _rebuild(
    ds: xr.Dataset, pos: np.ndarray, conf: np.ndarray, name: str, params: dict[str, Any]
) -> tuple[xr.Dataset, FilterReport]:
    old, _ = _arrays(ds)
    out = ds.copy()
    out["position"] = (_DIMS, pos)
    out["confidence"] = (_DIMS[:-1], conf)
    out = validate_poses2d(out)
    log = list(out.attrs.get("filters", []))
    out.attrs["filters"] = [*log, name]
    old_ok = np.isfinite(old).all(axis=-1)
    new_ok = np.isfinite(pos).all(axis=-1)
    moved = old_ok & new_ok & (np.abs(pos - old).max(axis=-1) > 1e-9)
    removed = old_ok & ~new_ok
    filled = ~old_ok & new_ok
    changed = moved | removed | filled
    per_kp = changed.sum(axis=(0, 1, 3))
    keypoints = [str(k) for k in ds.keypoint.values]
    report = FilterReport(
        filter=name,
        changed=int(changed.sum()),
        removed=int(removed.sum()),
        filled=int(filled.sum()),
        per_keypoint={k: int(n) for k, n in zip(keypoints, per_kp, strict=True)},
        params=params,
    )
    return out, report


def median_filter(ds: xr.Dataset, *, window: int = 5) -> tuple[xr.Dataset, FilterReport]:
    """Running median of each track's x and y over ``window`` frames (odd).

    NaN points are ignored in the windows and stay NaN.
    """
    pos, conf = _arrays(ds)
    out = running_median(pos, window)
    return _rebuild(ds, out, conf, "median", {"window": window})


def confidence_filter(ds: xr.Dataset, *, threshold: float = 0.8) -> tuple[xr.Dataset, FilterReport]:
    """Set positions with confidence below ``threshold`` (or NaN confidence) to NaN."""
    if not 0 <= threshold <= 1:
        raise InputError(f"confidence threshold must be in [0, 1], found {threshold}")
    pos, conf = _arrays(ds)
    low = ~(np.nan_to_num(conf, nan=-1.0) >= threshold)
    pos[low] = np.nan
    return _rebuild(ds, pos, conf, "confidence", {"threshold": threshold})


def _fill_gaps(pos: np.ndarray, conf: np.ndarray, max_gap: int) -> None:
    """In place: linearly interpolate NaN runs of ≤ ``max_gap`` frames along axis 0; a
    filled point gets the lower confidence of the two points bounding its gap."""
    n = pos.shape[0]
    flat_pos = pos.reshape(n, -1, 2)
    flat_conf = conf.reshape(n, -1)
    fill = short_gaps(~np.isfinite(flat_pos).all(axis=-1), max_gap)
    if not fill.any():
        return
    flat_pos[:] = fill_linear(flat_pos, fill)
    prev, nxt = bounding_frames(np.isfinite(flat_pos).all(axis=-1) & ~fill)
    t, j = np.nonzero(fill)
    flat_conf[t, j] = np.minimum(flat_conf[prev[t, j], j], flat_conf[nxt[t, j], j])


def interpolate_gaps(ds: xr.Dataset, *, max_gap: int = 5) -> tuple[xr.Dataset, FilterReport]:
    """Fill NaN gaps of at most ``max_gap`` frames by linear interpolation in time.

    Gaps at the start or end of a track (not bounded on both sides) and longer gaps stay NaN.
    """
    if max_gap < 1:
        raise InputError(f"max_gap must be ≥ 1 frame, found {max_gap}")
    pos, conf = _arrays(ds)
    _fill_gaps(pos, conf, max_gap)
    return _rebuild(ds, pos, conf, "interpolate", {"max_gap": max_gap})


def jump_filter(
    ds: xr.Dataset, *, max_jump_px: float, max_gap: int = 5
) -> tuple[xr.Dataset, FilterReport]:
    """Remove jumps and interpolate the short gaps they (and earlier filters) leave.

    A point is a jump when it lies more than ``max_jump_px`` from the running median of its
    track over ``2 * max_gap + 1`` frames, i.e. an excursion of up to ``max_gap`` frames that
    the track comes back from. Jumps become NaN; then NaN gaps of at most ``max_gap`` frames
    are interpolated (:func:`interpolate_gaps`).
    """
    if not max_jump_px > 0:
        raise InputError(f"max_jump_px must be > 0, found {max_jump_px}")
    if max_gap < 1:
        raise InputError(f"max_gap must be ≥ 1 frame, found {max_gap}")
    pos, conf = _arrays(ds)
    med = running_median(pos, 2 * max_gap + 1)
    dist = np.linalg.norm(pos - med, axis=-1)
    jumps = np.nan_to_num(dist, nan=0.0) > max_jump_px
    pos[jumps] = np.nan
    _fill_gaps(pos, conf, max_gap)
    return _rebuild(ds, pos, conf, "jump", {"max_jump_px": max_jump_px, "max_gap": max_gap})


def _swap_track(
    left: np.ndarray, right: np.ndarray, cl: np.ndarray, cr: np.ndarray, min_gain_px: float
) -> np.ndarray:
    """Frames (bool, (n,)) at which one left/right pair's labels should be exchanged.

    Walks forwards and backwards from the frame where both are most confidently detected,
    comparing each frame with the last frame's (corrected) positions.
    """
    n = len(left)
    both = np.isfinite(left).all(axis=1) & np.isfinite(right).all(axis=1)
    swap = np.zeros(n, dtype=bool)
    if not both.any():
        return swap
    score = np.where(both, np.minimum(np.nan_to_num(cl), np.nan_to_num(cr)), -np.inf)
    anchor = int(np.argmax(score))
    for order in (range(anchor + 1, n), range(anchor - 1, -1, -1)):
        prev_l, prev_r = left[anchor], right[anchor]
        for t in order:
            if not both[t]:
                continue
            keep = np.linalg.norm(left[t] - prev_l) + np.linalg.norm(right[t] - prev_r)
            cross = np.linalg.norm(left[t] - prev_r) + np.linalg.norm(right[t] - prev_l)
            if cross + min_gain_px < keep:
                swap[t] = True
                prev_l, prev_r = right[t], left[t]
            else:
                prev_l, prev_r = left[t], right[t]
    return swap


def left_right_filter(
    ds: xr.Dataset, pairs: Sequence[tuple[str, str]], *, min_gain_px: float = 1.0
) -> tuple[xr.Dataset, FilterReport]:
    """Correct left/right limb swaps from temporal continuity.

    For each view and each (left, right) pair — e.g. ``rig.skeleton.left_right`` — a frame's
    two detections are exchanged (positions and confidences) when the crossed assignment is
    closer to the previous frame's corrected positions by more than ``min_gain_px``
    (the sum of both distances). Frames where either is missing are left alone.
    """
    pos, conf = _arrays(ds)
    keypoints = [str(k) for k in ds.keypoint.values]
    for pair in pairs:
        unknown = [k for k in pair if k not in keypoints]
        if unknown:
            raise InputError(f"left/right pair {tuple(pair)}: keypoints {unknown} not in data")
    for left_name, right_name in pairs:
        a, b = keypoints.index(left_name), keypoints.index(right_name)
        for v in range(pos.shape[1]):
            for i in range(pos.shape[3]):
                swap = _swap_track(
                    pos[:, v, a, i],
                    pos[:, v, b, i],
                    conf[:, v, a, i],
                    conf[:, v, b, i],
                    min_gain_px,
                )
                pos[swap, v, a, i], pos[swap, v, b, i] = pos[swap, v, b, i], pos[swap, v, a, i]
                conf[swap, v, a, i], conf[swap, v, b, i] = (
                    conf[swap, v, b, i],
                    conf[swap, v, a, i],
                )
    return _rebuild(
        ds, pos, conf, "left_right", {"pairs": [list(p) for p in pairs], "min_gain_px": min_gain_px}
    )
