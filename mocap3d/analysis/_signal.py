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
    powers: np.ndarray = np.arange(1.0, 3.01, 0.25),
) -> float:
    """Locate where a signal leaves (or reaches) a flat level, by fitting a power-law hinge.

    ``y`` is the signal minus its flat level. With ``side="after"`` the signal is 0 up to the
    edge ``t_e`` and grows as ``b·s^p`` after it (``s = t - t_e``; the lift-off of a foot, the
    touchdown on a force platform); with ``side="before"`` it falls to 0 at ``t_e`` as
    ``b·s^p`` with ``s = t_e - t`` (the force at takeoff). For every candidate ``t_e`` on a
    grid of step ``resolution`` within ``t_guess ± span`` and every exponent ``p`` in
    ``powers`` (1 = a kink, 2 = a smooth quadratic edge …), ``b ≥ 0`` is fitted by least squares
    to the finite samples within ``t_guess ± 2·span``; the best pair wins. This locates a smooth
    edge without the lag of a threshold crossing. Vectorised: one pass over all candidates.

    Returns NaN if the window holds fewer than 4 finite samples.
    """
    w = (t > t_guess - 2 * span) & (t < t_guess + 2 * span) & np.isfinite(y)
    tw, yw = t[w], y[w]
    if tw.size < 4:
        return float("nan")
    grid = np.arange(t_guess - span, t_guess + span + resolution / 2, resolution)
    d = tw[None, :] - grid[:, None] if side == "after" else grid[:, None] - tw[None, :]
    s = np.maximum(d, 0.0) / span  # (candidates, samples), scaled for conditioning
    best = (np.inf, float("nan"))
    yy = float(yw @ yw)
    for p in powers:
        sp = s**p
        den = np.einsum("ij,ij->i", sp, sp)
        num = sp @ yw
        b = np.where(den > 0, np.maximum(num, 0.0) / np.where(den > 0, den, 1.0), 0.0)
        res = yy - 2 * b * num + b * b * den
        i = int(np.argmin(res))
        if res[i] < best[0]:
            best = (float(res[i]), float(grid[i]))
    return best[1]
