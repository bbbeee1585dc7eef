"""Kernels along time (axis 0) shared by the 2D and 3D filters: a NaN-aware running median,
lengths of runs, and linear filling of short gaps.

Arrays are ``(n_frames, ...)``; NaN marks a missing value. Nothing here knows about
datasets: :mod:`mocap3d.tracking.filters` (poses2d) and :mod:`mocap3d.triangulation.filters`
(poses3d) wrap these kernels.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from mocap3d.errors import InputError

_BLOCK = 8192  # frames per block of the running median (bounds its memory)


def running_median(
    x: np.ndarray, window: int, *, ends: Literal["shrink", "pad"] = "shrink"
) -> np.ndarray:
    """Centred running median along axis 0, ignoring NaNs; NaN inputs stay NaN.

    Parameters
    ----------
    x : ndarray, (n_frames, ...)
    window : int
        Odd number of frames.
    ends : {"shrink", "pad"}
        Near the ends, ``shrink`` narrows the window symmetrically (frame 0 is its own
        median, frame 1 the median of frames 0–2 …), so steady motion is not biased there;
        ``pad`` keeps the window and treats frames beyond the ends as missing.

    Notes
    -----
    Computed in blocks of frames, so memory stays bounded on long recordings.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    x = np.asarray(x, dtype=np.float64)
    if window < 1 or window % 2 == 0:
        raise InputError(f"median window must be an odd number ≥ 1, found {window}")
    half = window // 2
    n = x.shape[0]
    out = np.full_like(x, np.nan)
    with warnings.catch_warnings():  # windows with no finite value give NaN, as intended
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        for a in range(0, n, _BLOCK):
            b = min(n, a + _BLOCK)
            lo, hi = a - half, b + half
            seg = np.full((hi - lo, *x.shape[1:]), np.nan)
            seg[max(0, lo) - lo : min(n, hi) - lo] = x[max(0, lo) : min(n, hi)]
            out[a:b] = np.nanmedian(sliding_window_view(seg, window, axis=0), axis=-1)
        if ends == "shrink":
            for h in range(min(half, (n + 1) // 2)):
                for i in {h, n - 1 - h}:
                    out[i] = np.nanmedian(x[i - h : i + h + 1], axis=0)
    out[~np.isfinite(x)] = np.nan
    return out


def run_lengths(mask: np.ndarray) -> np.ndarray:
    """Length of the run of consecutive True values (along axis 0) that each element is in.

    Parameters
    ----------
    mask : ndarray of bool, (n_frames, ...)

    Returns
    -------
    ndarray of int, same shape; 0 where ``mask`` is False.
    """
    mask = np.asarray(mask, dtype=bool)
    T = mask.shape[0]
    cols = mask.reshape(T, -1).T  # (M, T)
    padded = np.zeros((cols.shape[0], T + 2), dtype=np.int8)
    padded[:, 1:-1] = cols
    flat = padded.reshape(-1)
    edges = np.diff(flat)
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    out = np.zeros(flat.size, dtype=np.int64)
    lengths = stops - starts
    idx = np.repeat(starts + 1, lengths) + (
        np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    out[idx] = np.repeat(lengths, lengths)
    return out.reshape(cols.shape[0], T + 2)[:, 1:-1].T.reshape(mask.shape)


def short_gaps(missing: np.ndarray, max_gap: int) -> np.ndarray:
    """Missing values in runs of at most ``max_gap`` frames with known values on both sides
    (gaps at the start or end of a track, and longer gaps, are not)."""
    missing = np.asarray(missing, dtype=bool)
    known = ~missing
    inner = (np.cumsum(known, axis=0) > 0) & (np.cumsum(known[::-1], axis=0)[::-1] > 0)
    return missing & inner & (run_lengths(missing) <= max_gap)


def bounding_frames(known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each element, the last frame ≤ it and the first frame ≥ it where ``known`` is True
    (along axis 0; -1 and ``n_frames`` where there is none)."""
    known = np.asarray(known, dtype=bool)
    T = known.shape[0]
    frames = np.arange(T).reshape(T, *([1] * (known.ndim - 1)))
    prev = np.maximum.accumulate(np.where(known, frames, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(known, frames, T)[::-1], axis=0)[::-1]
    return prev, nxt


def fill_linear(values: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """``values`` (n_frames, M, D) with the elements where ``fill`` (n_frames, M) is True
    interpolated linearly in time between the known frames bounding them (a new array).

    The elements to fill must have known frames on both sides (:func:`short_gaps`).
    """
    known = np.isfinite(values).all(axis=-1) & ~fill
    prev, nxt = bounding_frames(known)
    t, m = np.nonzero(fill)
    a, b = prev[t, m], nxt[t, m]
    w = ((t - a) / (b - a))[:, None]
    out = values.copy()
    out[t, m] = (1 - w) * values[a, m] + w * values[b, m]
    return out
