"""2D tracks placed at their true times on the master clock.

Trackers number a video's rows 0, 1, 2 …; after a dropped frame, row ``k`` is no longer the
``k``-th trigger. :func:`place_tracks` moves every row of every view to the trigger slot its
frame was exposed in (from the view's :class:`~mocap3d.sync.frames.FrameMap`), on one time base
shared by all views: the union of their slots (never cut to the shortest video), NaN where a
view has no frame (dropped, skipped, or outside its recording).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from mocap3d.datasets import make_poses2d, validate_poses2d
from mocap3d.errors import InputError
from mocap3d.sync.frames import OUTSIDE, FrameMap


def common_slots(maps: Mapping[str, FrameMap], *, tolerance: float = 0.25) -> np.ndarray:
    """One time base for several cameras: the union of their recorded trigger slots (s).

    Slots of different cameras closer than ``tolerance`` periods are the same trigger; the
    common time is their mean (cameras sharing an exposure channel have identical times).
    """
    times = [m.slot_time[m.slot_status != OUTSIDE] for m in maps.values()]
    if not times:
        raise InputError("no frame maps given; sync the cameras first")
    period = min(m.period_s for m in maps.values())
    t = np.sort(np.concatenate(times))
    new = np.concatenate(([True], np.diff(t) > tolerance * period))
    group = np.cumsum(new) - 1
    return np.bincount(group, weights=t) / np.bincount(group)


def place_tracks(
    poses2d: xr.Dataset, maps: Mapping[str, FrameMap], *, tolerance: float = 0.25
) -> xr.Dataset:
    """Put each view's rows at the master-clock time its frame was exposed.

    Parameters
    ----------
    poses2d : xarray.Dataset
        Tracks with ``time`` = video row (``time_reference = "frame"``); views whose video is
        shorter are padded with NaN at the end.
    maps : mapping of view name to FrameMap
        One frame map per view, for this trial.
    tolerance : float
        Slots of different cameras closer than this many periods are one time point.

    Returns
    -------
    xarray.Dataset
        poses2d on the common time base (s, master clock; ``time_reference = "session"``),
        NaN (confidence NaN) where a view has no frame, plus ``exposure_time`` (view, time):
        each view's own exposure time (s, NaN without a frame) and ``frame_index``
        (view, time): the video row, -1 without a frame.

    Raises
    ------
    InputError
        A view without a frame map, or tracks with more rows than the view's video.
    """
    ds = validate_poses2d(poses2d)
    views = [str(v) for v in ds["view"].values]
    missing = [v for v in views if v not in maps]
    if missing:
        raise InputError(
            f"no frame map for view(s) {missing}; frame maps exist for {sorted(maps)} — "
            "sync every camera of the trial"
        )
    grid = common_slots({v: maps[v] for v in views}, tolerance=tolerance)
    n_rows = ds.sizes["time"]
    pos_in = ds["position"].values
    conf_in = ds["confidence"].values
    shape = (len(views), grid.size, *pos_in.shape[2:])
    pos = np.full(shape, np.nan)
    conf = np.full((len(views), grid.size, *conf_in.shape[2:]), np.nan)
    exposure = np.full((len(views), grid.size), np.nan)
    frame_index = np.full((len(views), grid.size), -1, dtype=np.int64)
    period = min(maps[v].period_s for v in views)
    for iv, v in enumerate(views):
        fm = maps[v]
        n = min(fm.n_frames, n_rows)
        rest = np.isfinite(pos_in[iv, fm.n_frames :])
        beyond = rest.reshape(rest.shape[0], int(np.prod(rest.shape[1:]))).any(axis=1)
        if beyond.any():
            row = fm.n_frames + int(np.flatnonzero(beyond)[0])
            raise InputError(
                f"view {v!r}: tracks have data in row {row} but the video has {fm.n_frames} "
                "frames; the tracks belong to another video"
            )
        t = fm.frame_time[:n]
        j = np.clip(np.searchsorted(grid, t), 1, grid.size - 1) if grid.size > 1 else 0 * t
        j = np.asarray(j, dtype=np.int64)
        if grid.size > 1:
            j = np.where(np.abs(grid[j - 1] - t) < np.abs(grid[j] - t), j - 1, j)
        if np.any(np.abs(grid[j] - t) > tolerance * period) or np.unique(j).size != j.size:
            raise InputError(
                f"view {v!r}: frames do not fall on distinct common time points; lower "
                "`tolerance` or check the frame maps"
            )
        pos[iv, j] = pos_in[iv, :n]
        conf[iv, j] = conf_in[iv, :n]
        exposure[iv, j] = t
        frame_index[iv, j] = np.arange(n)
    attrs = {k: v for k, v in ds.attrs.items() if k not in ("fps", "time_unit", "time_reference")}
    out = make_poses2d(
        pos,
        conf,
        views=views,
        keypoints=[str(k) for k in ds["keypoint"].values],
        individuals=[str(i) for i in ds["individual"].values],
        fps=1.0 / period,
        time=grid,
        **attrs,
    )
    out["exposure_time"] = (("view", "time"), exposure, {"units": "s"})
    out["frame_index"] = (("view", "time"), frame_index)
    out.attrs["clock"] = "master"
    return out
