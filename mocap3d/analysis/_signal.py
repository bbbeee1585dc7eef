"""Small signal helpers shared by the analysis modules: runs, crossings, smoothing, edge fits.

Everything works on 1-D numpy arrays with an explicit time vector (seconds); callers hold the
xarray objects and their named dimensions.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def runs(mask: np.ndarray) -> np.ndarray:
    """Start and stop indices ``(n_runs, 2)`` of the runs of True in a 1-D boolean mask."""
    m = np.asarray(mask, dtype=np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], m, [0]])))
    return edges.reshape(-1, 2)


def first_run(mask: np.ndarray, min_len: int, *, initial: bool = False) -> int | None:
    """Index of the first run of True lasting at least ``min_len`` samples, or None.

    A run already in progress at index 0 counts only if ``initial`` (an onset is a change of
    state, so by default the signal must be seen below threshold first).
    """
    r = runs(mask)
    ok = r[:, 1] - r[:, 0] >= max(min_len, 1)
    if not initial:
        ok &= r[:, 0] > 0
    hits = np.flatnonzero(ok)
    return int(r[hits[0], 0]) if hits.size else None


def crossing_time(t: np.ndarray, y: np.ndarray, i: int, level: float) -> float:
    """Time where ``y`` crosses ``level`` between samples ``i-1`` and ``i`` (linear)."""
    if i <= 0:
        return float(t[0])
    y0, y1 = float(y[i - 1]), float(y[i])
    if y1 == y0:
        return float(t[i])
    f = np.clip((level - y0) / (y1 - y0), 0.0, 1.0)
    return float(t[i - 1] + f * (t[i] - t[i - 1]))


def moving_average(y: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average over ``n`` samples (edges: shorter windows). NaN propagates."""
    if n <= 1:
        return np.asarray(y, dtype=np.float64).copy()
    y = np.asarray(y, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(y)])
    half = n // 2
    lo = np.clip(np.arange(y.size) - half, 0, y.size)
    hi = np.clip(np.arange(y.size) - half + n, 0, y.size)
    return (c[hi] - c[lo]) / (hi - lo)


def rolling_mean_sd(y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD of every window of ``n`` samples (``len(y) - n + 1`` windows)."""
    y = np.asarray(y, dtype=np.float64)
    c1 = np.concatenate([[0.0], np.cumsum(y)])
    c2 = np.concatenate([[0.0], np.cumsum(y * y)])
    m = (c1[n:] - c1[:-n]) / n
    var = (c2[n:] - c2[:-n]) / n - m * m
    return m, np.sqrt(np.maximum(var, 0.0))


def fit_edge(
    t: np.ndarray,
    y: np.ndarray,
    t_guess: float,
    *,
    side: Literal["before", "after"],
    span: float,
    resolution: float,
) -> float:
    """Locate where a signal leaves (or reaches) a flat level, by fitting a hinge.

    ``y`` is the signal minus its flat level. With ``side="after"`` the signal is flat (0) up to
    the edge ``t_e`` and rises as ``a·s + b·s²`` after it (``s = t - t_e``; lift-off of a foot,
    touchdown on a force platform); with ``side="before"`` it falls to 0 at ``t_e`` as
    ``a·s + b·s²`` with ``s = t_e - t`` (the force at takeoff). ``a, b ≥ 0`` are fitted by
    non-negative least squares for every candidate ``t_e`` on a grid of step ``resolution``
    within ``t_guess ± span``, using the samples within ``t_guess ± 2·span``; the candidate with
    the smallest residual wins. A smooth edge (zero slope at the event, as for a quadratic
    onset) is located without the lag of a threshold crossing.

    Returns NaN if the window holds fewer than 4 finite samples.
    """
    from scipy.optimize import nnls

    w = (t > t_guess - 2 * span) & (t < t_guess + 2 * span) & np.isfinite(y)
    tw, yw = t[w], y[w]
    if tw.size < 4:
        return float("nan")
    grid = np.arange(t_guess - span, t_guess + span + resolution / 2, resolution)
    best_res, best_t = np.inf, float("nan")
    for te in grid:
        s = np.maximum(tw - te if side == "after" else te - tw, 0.0)
        a = np.stack([s, s * s], axis=1)
        scale = np.maximum(a.max(axis=0), 1e-300)
        _, res = nnls(a / scale, yw)
        if res < best_res:
            best_res, best_t = res, float(te)
    return best_t
