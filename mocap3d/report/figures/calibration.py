"""Calibration figures: the cameras in 3D, reprojection errors, where the board was seen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.report.figures.common import new_figure, palette


def _frustum(cam: Any, depth: float) -> np.ndarray:
    """World coordinates (5, 3) of a camera's centre and its image corners at ``depth`` mm."""
    w, h = cam.size
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    rays = np.column_stack([corners, np.ones(4)]) @ np.linalg.inv(cam.K).T
    pts_cam = np.vstack([np.zeros(3), rays * depth])
    return np.asarray((pts_cam - cam.t) @ cam.R)


def plot_camera_layout(
    cameras: CameraGroup,
    *,
    platform_size_mm: tuple[float, float] | None = (60.0, 60.0),
    points: np.ndarray | None = None,
    title: str = "camera layout",
) -> Any:
    """The cameras (centre, viewing frustum, name) and the force platform in the world frame.

    Parameters
    ----------
    cameras : CameraGroup
    platform_size_mm : (float, float), optional
        Platform size, drawn centred on the origin at z = 0.
    points : (n, 3) array, optional
        World points to show (e.g. keypoints over a trial), mm; NaN rows are skipped.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = new_figure(6.5, 5.5)
    ax = fig.add_subplot(projection="3d")
    centres = cameras.centers
    span = float(np.ptp(np.vstack([centres, np.zeros((1, 3))]), axis=0).max()) or 100.0
    depth = 0.15 * span
    for cam, colour in zip(cameras, palette(len(cameras)), strict=True):
        f = _frustum(cam, depth)
        for i in range(1, 5):
            ax.plot(*np.stack([f[0], f[i]]).T, color=colour, lw=0.8)
        ax.plot(*np.vstack([f[1:], f[1:2]]).T, color=colour, lw=1.2)
        ax.scatter(*f[0], color=colour, s=25)
        ax.text(*f[0], f"  {cam.name}", color=colour, fontsize=8)
    if platform_size_mm is not None:
        a, b = platform_size_mm[0] / 2, platform_size_mm[1] / 2
        sq = np.array([[-a, -b, 0], [a, -b, 0], [a, b, 0], [-a, b, 0], [-a, -b, 0]])
        ax.plot(*sq.T, color="k", lw=1.0)
    axis_len = 0.1 * span
    for vec, axis_colour, label in zip(np.eye(3), ("r", "g", "b"), "xyz", strict=True):
        ax.quiver(0, 0, 0, *(vec * axis_len), color=axis_colour, lw=1.5)
        ax.text(*(vec * axis_len * 1.15), label, color=axis_colour, fontsize=8)
    if points is not None:
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        p = p[np.isfinite(p).all(axis=1)]
        if p.size:
            ax.scatter(*p.T, s=1, color="0.3", alpha=0.4)
    lo = np.minimum(centres.min(axis=0), 0) - 0.05 * span
    hi = np.maximum(centres.max(axis=0), 0) + 0.05 * span
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_zlim(lo[2], hi[2])
    ax.set_box_aspect(tuple(hi - lo))
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.set_zlabel("z (mm)")
    ax.set_title(title)
    return fig


def plot_reprojection_errors(
    errors: Mapping[str, np.ndarray], *, bins: int = 40, title: str = "reprojection error"
) -> Any:
    """Histogram of reprojection errors per camera, with median and 95th percentile.

    Parameters
    ----------
    errors : mapping of camera name to array
        Reprojection error of every observation (e.g. board corner), px; NaN ignored.
    """
    clean = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in errors.items()}
    clean = {k: v[np.isfinite(v)] for k, v in clean.items()}
    if not clean or not any(v.size for v in clean.values()):
        raise InputError("plot_reprojection_errors needs at least one finite error")
    top = max(float(np.percentile(v, 99.5)) for v in clean.values() if v.size)
    edges = np.linspace(0, top * 1.05 or 1.0, bins + 1)
    fig = new_figure(6.5, 3.8)
    ax = fig.add_subplot()
    for (name, v), colour in zip(clean.items(), palette(len(clean)), strict=True):
        if not v.size:
            continue
        label = f"{name}: median {np.median(v):.2f}, p95 {np.percentile(v, 95):.2f} px (n={v.size})"
        ax.hist(v, bins=edges, histtype="step", lw=1.5, color=colour, label=label)
    ax.set_xlabel("reprojection error (px)")
    ax.set_ylabel("observations")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def plot_coverage(
    points: Mapping[str, np.ndarray],
    cameras: CameraGroup,
    *,
    grid: tuple[int, int] = (8, 8),
    title: str = "calibration coverage",
) -> Any:
    """Where each camera saw the board: detected points over the image, with the share of the
    image (``grid`` cells) that has at least one detection.

    Parameters
    ----------
    points : mapping of camera name to (n, 2) array
        Detected board corners, px.
    cameras : CameraGroup
        For the image sizes (and camera order).
    """
    names = [c.name for c in cameras if c.name in points]
    if not names:
        raise InputError(f"no detections for any camera of {cameras.names}")
    cols = min(len(names), 2)
    rows = int(np.ceil(len(names) / cols))
    fig = new_figure(3.6 * cols, 3.0 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel()[len(names) :]:
        ax.set_axis_off()
    for ax, name in zip(axes.ravel(), names, strict=False):
        w, h = cameras[name].size
        p = np.asarray(points[name], dtype=np.float64).reshape(-1, 2)
        p = p[np.isfinite(p).all(axis=1)]
        counts, _, _ = np.histogram2d(
            p[:, 0], p[:, 1], bins=grid, range=[[-0.5, w - 0.5], [-0.5, h - 0.5]]
        )
        covered = float((counts > 0).mean())
        ax.imshow(
            (counts > 0).T,
            extent=(-0.5, w - 0.5, h - 0.5, -0.5),
            cmap="Greens",
            vmin=0,
            vmax=3,
            alpha=0.6,
            interpolation="nearest",
        )
        ax.scatter(p[:, 0], p[:, 1], s=1, color="k", alpha=0.5)
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_aspect("equal")
        ax.set_title(f"{name}: {covered:.0%} of image, {len(p)} points", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(title)
    return fig
