"""Tracking figures: detector confidence over a trial, evaluation curves against labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from mocap3d.datasets import validate_poses2d
from mocap3d.errors import InputError
from mocap3d.report.figures.common import new_figure, palette, shade_phases


def plot_confidence(
    poses2d: xr.Dataset,
    *,
    events: Mapping[str, float] | None = None,
    threshold: float | None = None,
    individual: str | None = None,
    title: str = "tracking confidence",
) -> Any:
    """Confidence of every keypoint over time, one panel per camera.

    Parameters
    ----------
    poses2d : xarray.Dataset
        poses2d with ``confidence`` (view, time, keypoint, individual); NaN (not tracked)
        leaves a gap.
    events : mapping, optional
        Jump events (s) for the phase shading.
    threshold : float, optional
        Confidence below which tracks are discarded downstream (a dashed line).
    individual : str, optional
        Default the first.
    """
    ds = validate_poses2d(poses2d)
    ind = individual or str(ds["individual"].values[0])
    conf = ds["confidence"].sel(individual=ind)
    views = [str(v) for v in ds["view"].values]
    keypoints = [str(k) for k in ds["keypoint"].values]
    t = ds["time"].values
    fig = new_figure(7.5, 1.6 * len(views) + 0.8)
    axes = fig.subplots(len(views), 1, sharex=True, squeeze=False)[:, 0]
    colours = palette(len(keypoints))
    for ax, view in zip(axes, views, strict=True):
        if events:
            shade_phases(ax, events)
        c = conf.sel(view=view)
        for kp, colour in zip(keypoints, colours, strict=True):
            ax.plot(t, c.sel(keypoint=kp).values, color=colour, lw=0.8, label=kp)
        if threshold is not None:
            ax.axhline(threshold, color="k", ls="--", lw=0.8)
        tracked = float(np.isfinite(c.values).mean())
        ax.set_ylabel(view, fontsize=8)
        ax.set_ylim(-0.02, 1.05)
        ax.set_title(f"{view}: {tracked:.0%} of keypoint-frames tracked", fontsize=8, loc="left")
    axes[-1].set_xlabel("time (s, session clock)")
    axes[0].legend(fontsize=6, ncol=5, loc="lower left")
    fig.suptitle(title)
    return fig


def pck_curve(errors: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Fraction of keypoints within each threshold (PCK); NaN errors (missed) count as wrong."""
    e = np.asarray(errors, dtype=np.float64).ravel()
    if not e.size:
        return np.full(thresholds.shape, np.nan)
    e = np.where(np.isfinite(e), e, np.inf)
    return np.asarray((e[None, :] <= thresholds[:, None]).mean(axis=1))


def plot_tracking_evaluation(
    errors: Mapping[str, np.ndarray],
    *,
    keypoint_errors: Mapping[str, np.ndarray] | None = None,
    max_px: float | None = None,
    title: str = "tracking evaluation",
) -> Any:
    """PCK curves (fraction within a pixel threshold) and per-keypoint errors.

    Parameters
    ----------
    errors : mapping of label to array
        Pixel errors against labelled frames per model, camera or split (e.g. ``"train"``,
        ``"test"``); NaN = keypoint missed (counted as a failure at every threshold).
    keypoint_errors : mapping of keypoint to array, optional
        Errors per keypoint, shown as median and 95th percentile bars.
    max_px : float, optional
        Right end of the threshold axis (default the 99th percentile of the errors).
    """
    parts = [np.asarray(v, dtype=float).ravel() for v in errors.values()]
    finite = np.concatenate(parts) if parts else np.zeros(0)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        raise InputError("plot_tracking_evaluation needs at least one finite error")
    top = max_px or max(float(np.percentile(finite, 99)), 1.0)
    thresholds = np.linspace(0, top, 200)
    panels = 2 if keypoint_errors else 1
    fig = new_figure(4.2 * panels + 0.5, 3.6)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for (label, e), colour in zip(errors.items(), palette(len(errors)), strict=True):
        e = np.asarray(e, dtype=float)
        med = float(np.nanmedian(e)) if np.isfinite(e).any() else float("nan")
        axes[0].plot(
            thresholds,
            pck_curve(e, thresholds),
            color=colour,
            label=f"{label}: median {med:.2f} px",
        )
    axes[0].set_xlabel("threshold (px)")
    axes[0].set_ylabel("fraction of keypoints within")
    axes[0].set_ylim(0, 1.02)
    axes[0].grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    if keypoint_errors:
        names = list(keypoint_errors)
        arr = [np.asarray(keypoint_errors[k], dtype=float) for k in names]
        medians = [np.nanmedian(a) if np.isfinite(a).any() else np.nan for a in arr]
        p95 = [np.nanpercentile(a, 95) if np.isfinite(a).any() else np.nan for a in arr]
        y = np.arange(len(names))
        axes[1].barh(y, p95, color="0.8", label="p95")
        axes[1].barh(y, medians, color="C0", label="median")
        axes[1].set_yticks(y, names, fontsize=7)
        axes[1].invert_yaxis()
        axes[1].set_xlabel("error (px)")
        axes[1].legend(fontsize=7)
    fig.suptitle(title)
    return fig
