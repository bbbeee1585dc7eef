"""The 3D skeleton at key frames of a jump."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from mocap3d.datasets import validate_poses3d
from mocap3d.errors import InputError
from mocap3d.report.figures.common import new_figure

KEY_EVENTS = ("onset", "pushoff_start", "takeoff", "apex", "landing", "landing_end")


def key_times(events: Mapping[str, float]) -> dict[str, float]:
    """Key frames of a jump from its events: onset, push-off, takeoff, apex (half-way through
    the flight), landing, end of landing — those that are known."""
    ev = dict(events)
    if "takeoff" in ev and "landing" in ev:
        ev["apex"] = (ev["takeoff"] + ev["landing"]) / 2
    return {k: float(ev[k]) for k in KEY_EVENTS if k in ev}


def plot_skeleton_frames(
    poses3d: xr.Dataset,
    bones: Sequence[tuple[str, str]],
    times: Mapping[str, float],
    *,
    individual: str | None = None,
    platform_size_mm: tuple[float, float] | None = (60.0, 60.0),
    trace: str | None = "hip",
    title: str = "3D skeleton at key frames",
) -> Any:
    """One 3D panel per key time: bones, keypoints, the platform and a keypoint's path.

    Parameters
    ----------
    poses3d : xarray.Dataset
        poses3d, mm; the frame nearest each time is drawn (missing keypoints are left out).
    bones : sequence of (str, str)
        Skeleton edges by keypoint name.
    times : mapping of label to seconds
        E.g. :func:`key_times` of the trial's events.
    trace : str, optional
        Keypoint whose whole path is drawn faintly in every panel.
    """
    ds = validate_poses3d(poses3d)
    if not times:
        raise InputError("plot_skeleton_frames needs at least one key time")
    ind = individual or str(ds["individual"].values[0])
    pos = ds["position"].sel(individual=ind)
    kps = [str(k) for k in ds["keypoint"].values]
    allp = pos.transpose("time", "keypoint", "space").values.reshape(-1, 3)
    allp = allp[np.isfinite(allp).all(axis=1)]
    if not allp.size:
        raise InputError("poses3d has no finite keypoint to draw")
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    if platform_size_mm is not None:
        half = np.array([platform_size_mm[0] / 2, platform_size_mm[1] / 2, 0])
        lo, hi = np.minimum(lo, -half), np.maximum(hi, half)
    pad = 0.05 * float((hi - lo).max())
    lo, hi = lo - pad, hi + pad
    n = len(times)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig = new_figure(3.4 * cols, 3.0 * rows)
    t = ds["time"].values
    for i, (label, when) in enumerate(times.items()):
        ax = fig.add_subplot(rows, cols, i + 1, projection="3d")
        k = int(np.argmin(np.abs(t - when)))
        frame = pos.isel(time=k).transpose("keypoint", "space").values
        for a, b in bones:
            seg = frame[[kps.index(a), kps.index(b)]]
            if np.isfinite(seg).all():
                ax.plot(*seg.T, color="C0", lw=2)
        ok = np.isfinite(frame).all(axis=1)
        ax.scatter(*frame[ok].T, color="C3", s=10, depthshade=False)
        if trace is not None and trace in kps:
            path = pos.sel(keypoint=trace).transpose("time", "space").values
            ax.plot(*path.T, color="0.6", lw=0.6)
        if platform_size_mm is not None:
            a2, b2 = platform_size_mm[0] / 2, platform_size_mm[1] / 2
            sq = np.array([[-a2, -b2, 0], [a2, -b2, 0], [a2, b2, 0], [-a2, b2, 0], [-a2, -b2, 0]])
            ax.plot(*sq.T, color="k", lw=0.8)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_zlim(lo[2], hi[2])
        ax.set_box_aspect(tuple(hi - lo))
        ax.view_init(elev=15, azim=-70)
        ax.set_title(f"{label} ({t[k]:.3f} s)", fontsize=9)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("x (mm)", fontsize=7)
        ax.set_zlabel("z (mm)", fontsize=7)
    fig.suptitle(title)
    return fig
