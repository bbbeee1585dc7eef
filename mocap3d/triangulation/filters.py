"""Filters for 3D trajectories and gap handling, each reporting what it changed.

Every filter takes a poses3d dataset and returns ``(new_dataset, FilterReport)``; the input is
never modified, and a line describing the step is appended to the dataset's ``history``
attribute. Counts are in points: one keypoint of one individual in one frame.

- :func:`median_filter` — running median along time (NaN-aware; never fills gaps);
- :func:`drop_jumps` — points further than ``max_jump_mm`` from the running median → NaN;
- :func:`drop_fast` — isolated spikes: points reached and left faster than ``max_speed`` → NaN;
- :func:`drop_unreliable` — points with too few cameras or too large a reprojection error → NaN;
- :func:`interpolate_gaps` — fill gaps of at most ``max_gap`` frames (linear or cubic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import xarray as xr

from mocap3d.datasets import validate_poses3d
from mocap3d.errors import InputError
from mocap3d.timeseries import fill_linear, running_median, short_gaps


@dataclass(frozen=True)
class FilterReport:
    """What a filter did.

    Attributes
    ----------
    name : str
    n_points : int
        Points in the dataset (frames × keypoints × individuals).
    n_changed : int
        Points whose position the filter moved, removed (set to NaN) or filled.
    n_removed, n_filled : int
        Of those, points set to NaN, and NaN points given a position.
    """

    name: str
    n_points: int
    n_changed: int
    n_removed: int = 0
    n_filled: int = 0

    def __str__(self) -> str:
        parts = [f"{self.name}: changed {self.n_changed} of {self.n_points} points"]
        if self.n_removed:
            parts.append(f"removed {self.n_removed}")
        if self.n_filled:
            parts.append(f"filled {self.n_filled}")
        return ", ".join(parts)


# ---------------------------------------------------------------------------- helpers


def _points(ds: xr.Dataset) -> np.ndarray:
    """Positions as (time, keypoint·individual, 3)."""
    p = ds.position.transpose("time", "keypoint", "individual", "space").values
    return p.reshape(p.shape[0], -1, 3)


def _with_points(ds: xr.Dataset, points: np.ndarray, step: str) -> xr.Dataset:
    """``ds`` with new positions; points set to NaN or filled lose their camera support."""
    T, K, ind = ds.sizes["time"], ds.sizes["keypoint"], ds.sizes["individual"]
    new = ds.copy()
    new["position"] = (
        ("time", "space", "keypoint", "individual"),
        points.reshape(T, K, ind, 3).transpose(0, 3, 1, 2),
    )
    was = np.isfinite(_points(ds)[..., 0]).reshape(T, K, ind)
    now = np.isfinite(points[..., 0]).reshape(T, K, ind)
    unsupported = xr.DataArray(~(was & now), dims=("time", "keypoint", "individual"))
    for var in ("reprojection_error", "score"):
        if var in new:
            new[var] = new[var].where(~unsupported)
    if "n_views" in new:
        new["n_views"] = new["n_views"].where(~unsupported, 0).astype(np.int16)
    history = str(ds.attrs.get("history", ""))
    new.attrs["history"] = (history + "\n" if history else "") + step
    return validate_poses3d(new)


def _report(name: str, old: np.ndarray, new: np.ndarray) -> FilterReport:
    was, now = np.isfinite(old[..., 0]), np.isfinite(new[..., 0])
    moved = was & now & (np.abs(new - old) > 1e-9).any(axis=-1)
    removed = was & ~now
    filled = ~was & now
    return FilterReport(
        name,
        int(was.size),
        int(moved.sum() + removed.sum() + filled.sum()),
        int(removed.sum()),
        int(filled.sum()),
    )


def _check_window(window: int) -> None:
    if window < 3 or window % 2 == 0:
        raise InputError(f"window must be an odd number of frames ≥ 3, found {window}")


# ---------------------------------------------------------------------------- filters


def median_filter(ds: xr.Dataset, *, window: int = 5) -> tuple[xr.Dataset, FilterReport]:
    """Replace each point by the median of its ``window`` frames (centred, NaN ignored).

    Gaps stay gaps: a NaN point stays NaN.
    """
    _check_window(window)
    ds = validate_poses3d(ds)
    old = _points(ds)
    new = running_median(old, window, ends="pad")
    rep = _report(f"median_filter(window={window})", old, new)
    return _with_points(ds, new, str(rep)), rep


def drop_jumps(
    ds: xr.Dataset, *, max_jump_mm: float = 5.0, window: int = 9
) -> tuple[xr.Dataset, FilterReport]:
    """NaN where a point is more than ``max_jump_mm`` from its running median (``window``)."""
    _check_window(window)
    if not max_jump_mm > 0:
        raise InputError(f"max_jump_mm must be > 0, found {max_jump_mm}")
    ds = validate_poses3d(ds)
    old = _points(ds)
    med = running_median(old, window, ends="pad")
    with np.errstate(invalid="ignore"):
        far = np.linalg.norm(old - med, axis=-1) > max_jump_mm
    new = old.copy()
    new[far] = np.nan
    rep = _report(f"drop_jumps(max_jump_mm={max_jump_mm:g}, window={window})", old, new)
    return _with_points(ds, new, str(rep)), rep


def drop_fast(
    ds: xr.Dataset, *, max_speed: float, fps: float | None = None
) -> tuple[xr.Dataset, FilterReport]:
    """NaN where a point is a spike: reached from the previous frame *and* left to the next
    faster than ``max_speed`` (mm/s). At the recording's ends one side suffices.

    ``fps`` defaults to the dataset's ``fps`` attribute.
    """
    ds = validate_poses3d(ds)
    fps = fps if fps is not None else ds.attrs.get("fps")
    if not (fps and fps > 0):
        raise InputError("drop_fast needs the frame rate: pass fps= or use a dataset with fps")
    if not max_speed > 0:
        raise InputError(f"max_speed must be > 0 mm/s, found {max_speed}")
    old = _points(ds)
    step = np.linalg.norm(np.diff(old, axis=0), axis=-1) * fps  # (T−1, M)
    with np.errstate(invalid="ignore"):
        fast = step > max_speed
    into = np.vstack([fast[:1], fast])  # frame t reached fast
    out_of = np.vstack([fast, fast[-1:]])  # frame t left fast
    spike = into & out_of
    new = old.copy()
    new[spike] = np.nan
    rep = _report(f"drop_fast(max_speed={max_speed:g} mm/s)", old, new)
    return _with_points(ds, new, str(rep)), rep


def drop_unreliable(
    ds: xr.Dataset, *, min_views: int = 2, max_error_px: float | None = None
) -> tuple[xr.Dataset, FilterReport]:
    """NaN where fewer than ``min_views`` cameras were used or the mean reprojection error
    exceeds ``max_error_px``."""
    ds = validate_poses3d(ds)
    old = _points(ds)
    nv = ds.n_views.transpose("time", "keypoint", "individual").values.reshape(old.shape[:2])
    bad = nv < min_views
    if max_error_px is not None:
        err = ds.reprojection_error.transpose("time", "keypoint", "individual").values
        with np.errstate(invalid="ignore"):
            bad |= err.reshape(old.shape[:2]) > max_error_px
    new = old.copy()
    new[bad] = np.nan
    rep = _report(f"drop_unreliable(min_views={min_views}, max_error_px={max_error_px})", old, new)
    return _with_points(ds, new, str(rep)), rep


def interpolate_gaps(
    ds: xr.Dataset, *, max_gap: int = 10, method: Literal["linear", "cubic"] = "linear"
) -> tuple[xr.Dataset, FilterReport]:
    """Fill gaps of at most ``max_gap`` frames between known frames of each point.

    Gaps at the start or end of the recording, and longer gaps, stay NaN. Filled points keep
    ``n_views = 0`` (no camera saw them). ``cubic`` uses a cubic spline through the known
    frames of each point (``scipy.interpolate.CubicSpline``).
    """
    if max_gap < 1:
        raise InputError(f"max_gap must be ≥ 1 frame, found {max_gap}")
    if method not in ("linear", "cubic"):
        raise InputError(f"method must be 'linear' or 'cubic', found {method!r}")
    ds = validate_poses3d(ds)
    old = _points(ds)
    fill = short_gaps(~np.isfinite(old[..., 0]), max_gap)
    if method == "linear":
        new = fill_linear(old, fill)
    else:
        from scipy.interpolate import CubicSpline

        new = old.copy()
        known = np.isfinite(old[..., 0])
        frames = np.arange(old.shape[0])
        for m in np.flatnonzero(fill.any(axis=0)):  # one trajectory at a time
            good, at = known[:, m], fill[:, m]
            if good.sum() < 4:  # too few points for a spline: linear
                new[:, m] = fill_linear(old[:, m : m + 1], fill[:, m : m + 1])[:, 0]
            else:
                new[at, m] = CubicSpline(frames[good], old[good, m])(frames[at])
    rep = _report(f"interpolate_gaps(max_gap={max_gap}, method={method})", old, new)
    return _with_points(ds, new, str(rep)), rep
