"""Edges of TTL signals: hysteresis thresholds, sub-sample crossing times, bursts.

An analog TTL channel (exposure pulses, sync box, trial trigger) is turned into the times of its
rising and falling edges. A sample above ``high`` switches the state to high, a sample below
``low`` switches it to low, anything between keeps the state (hysteresis: noise and ringing near
one threshold cannot make a second edge). The time of an edge is where the signal crosses the
mid level ``(low + high) / 2``, found by linear interpolation between the last sample on the old
side of it and the next one — sub-sample, as clock-drift fits need (a whole sample is 50 µs at
20 kHz; 1 ppm over 20 s is 20 µs). Digital channels (0/1) use the same code with thresholds at
0.5, which puts each edge half-way between the two samples that bracket it (the unbiased guess).

Everything is vectorised and works block by block (:class:`EdgeScanner`), so hour-long files
are read in pieces with the hysteresis state carried across block boundaries.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from mocap3d.errors import InputError

log = logging.getLogger(__name__)

Kind = Literal["analog", "digital"]
#: Samples searched backwards from the threshold crossing for the mid-level crossing.
WINDOW = 4
#: Samples before an edge that measure the local baseline, and samples kept between blocks.
LOCAL = 6
TAIL = 64
#: Thresholds as fractions of the step between the low and high levels.
HYSTERESIS = (0.3, 0.7)


@dataclass(frozen=True)
class Levels:
    """The two levels of a TTL signal and the thresholds derived from them.

    Attributes
    ----------
    low_level, high_level : float
        Typical values in the low and high states (signal units, e.g. V).
    noise : float
        Robust standard deviation of the low state (1.4826 · MAD).
    low, high : float
        Hysteresis thresholds: the state goes low below ``low`` and high above ``high``.
    """

    low_level: float
    high_level: float
    noise: float
    low: float
    high: float

    @property
    def mid(self) -> float:
        return 0.5 * (self.low + self.high)


def thresholds(low: float, high: float) -> Levels:
    """Levels for explicitly given thresholds ``low < high``."""
    if not np.isfinite(low) or not np.isfinite(high) or not low < high:
        raise InputError(f"edge thresholds must be finite with low < high, found {low}, {high}")
    nan = float("nan")  # levels unknown: edges are timed at the fixed mid level
    return Levels(nan, nan, nan, float(low), float(high))


def _sample_index(n: int, k: int) -> np.ndarray:
    """``k`` random indices into ``n`` samples (fixed seed: the same file, the same levels)."""
    return np.random.default_rng(0).integers(0, n, k)


def ttl_levels(
    x: np.ndarray,
    *,
    hysteresis: tuple[float, float] = HYSTERESIS,
    min_snr: float = 8.0,
    name: str = "signal",
    max_samples: int = 500_000,
) -> Levels:
    """Find the low and high levels of a TTL signal and hysteresis thresholds between them.

    The two levels are separated by Otsu's threshold on a histogram of (at most
    ``max_samples``, randomly chosen) samples; each level is the median of its side.

    Parameters
    ----------
    x : (n_samples,) ndarray
        The signal; NaNs are ignored.
    hysteresis : (float, float)
        Thresholds as fractions of the step from the low to the high level.
    min_snr : float
        The step must be at least this many noise standard deviations, else there are no
        pulses to detect.
    name : str
        Channel name for messages.

    Raises
    ------
    InputError
        If the signal has no two distinct levels (no pulses: flat, or noise only).
    """
    x = np.asarray(x).ravel()
    if x.size > max_samples:  # random, not strided: a stride can alias with a pulse train
        x = x[_sample_index(x.size, max_samples)]
    x = x[np.isfinite(x)].astype(np.float64, copy=False)
    if x.size < 4:
        raise InputError(f"{name}: only {x.size} finite samples; cannot find TTL levels")
    lo_v, hi_v = float(x.min()), float(x.max())
    if hi_v <= lo_v:
        raise InputError(
            f"{name}: no pulses — the signal is constant at {lo_v:g}; check the wiring of "
            "this channel, or that the right channel is named in the rig"
        )
    counts, edges = np.histogram(x, bins=512, range=(lo_v, hi_v))
    centres = 0.5 * (edges[1:] + edges[:-1])
    w0 = np.cumsum(counts)
    w1 = w0[-1] - w0
    m0 = np.cumsum(counts * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    cut = edges[int(np.argmax(between)) + 1]
    if x.size > 100_000:  # medians of 100 000 random samples are plenty
        x = x[_sample_index(x.size, 100_000)]
    below, above = x[x < cut], x[x >= cut]
    low_level = float(np.median(below)) if below.size else lo_v
    high_level = float(np.median(above)) if above.size else hi_v
    noise = 1.4826 * float(np.median(np.abs(below - low_level))) if below.size else 0.0
    step = high_level - low_level
    if above.size < 2 or below.size < 2 or step < min_snr * noise:
        raise InputError(
            f"{name}: no pulses found — levels {low_level:.3g} and {high_level:.3g} differ by "
            f"{step:.3g}, less than {min_snr:g}× the noise ({noise:.3g}); check the wiring, "
            "that the camera/sync box was running, or give thresholds explicitly"
        )
    f_lo, f_hi = hysteresis
    if not 0 < f_lo < f_hi < 1:
        raise InputError(
            f"hysteresis fractions must satisfy 0 < low < high < 1, found {hysteresis}"
        )
    return Levels(low_level, high_level, noise, low_level + f_lo * step, low_level + f_hi * step)


def _last_other_side(
    buf: np.ndarray, i: np.ndarray, mid: float | np.ndarray, rising: bool
) -> np.ndarray:
    """For each index ``i``, the last index ``j < i`` with ``buf[j]`` on the other side of mid.

    ``mid`` is one level or one per index. Looks back one sample at a time (vectorised over the
    edges) for ``WINDOW`` samples, then in widening windows for the few slow edges left; -1
    where there is none.
    """
    mids = np.broadcast_to(np.asarray(mid, dtype=np.float64), i.shape)
    j = np.full(i.size, -1, dtype=np.int64)
    todo = np.arange(i.size)
    for back in range(1, WINDOW + 1):
        if not todo.size:
            return j
        k = i[todo] - back
        ok = k >= 0
        v = buf[np.maximum(k, 0)]
        hit = ok & ((v < mids[todo]) if rising else (v > mids[todo]))
        j[todo[hit]] = k[hit]
        todo = todo[~hit & (k > 0)]
    w = 4 * WINDOW
    while todo.size:  # slow edges: wider windows
        ii = i[todo]
        back_idx = ii[:, None] - np.arange(w, 0, -1)[None, :]
        valid = back_idx >= 0
        vals = buf[np.where(valid, back_idx, 0)]
        m = mids[todo][:, None]
        other = ((vals < m) if rising else (vals > m)) & valid
        has = other.any(axis=1)
        last = w - 1 - np.argmax(other[:, ::-1], axis=1)
        j[todo[has]] = (ii - w + last)[has]
        todo = todo[~has & (ii - w > 0)]
        w *= 4
    return j


def _local_mid(buf: np.ndarray, i: np.ndarray, lv: Levels, rising: bool) -> np.ndarray | float:
    """Mid level of each edge, moved with the baseline measured just before the edge.

    A slow baseline shifts both TTL levels; the old state's level over ``LOCAL`` samples ending
    three samples before the threshold crossing ``i`` (only samples beyond the old state's
    threshold count) gives the shift, so edges are timed at their own 50 % point (without it,
    a 0.3 V wander on a 5 V step moves edges by µs — ppm of drift over a trial).
    """
    if not (np.isfinite(lv.low_level) and np.isfinite(lv.high_level)) or i.size == 0:
        return lv.mid
    total = np.zeros(i.size)
    count = np.zeros(i.size, dtype=np.int64)
    for back in range(3, LOCAL + 3):
        k = i - back
        v = buf[np.maximum(k, 0)].astype(np.float64)
        m = (k >= 0) & ((v < lv.low) if rising else (v > lv.high))
        total += np.where(m, v, 0.0)
        count += m
    offset = lv.mid - (lv.low_level if rising else lv.high_level)
    return np.where(count >= 3, total / np.maximum(count, 1) + offset, lv.mid)


def _crossings(
    x: np.ndarray, ext: np.ndarray, n_ext: int, idx: np.ndarray, lv: Levels, rising: bool
) -> np.ndarray:
    """Fractional positions (in ``x``'s indices) of the last mid crossing before each ``idx``.

    ``ext`` holds the last ``n_ext`` samples before ``x`` followed by ``x``'s first samples.
    """
    out = np.empty(idx.size)
    near = idx < TAIL
    for sel, buf, shift in ((~near, x, 0), (near, ext, n_ext)):
        if not sel.any():
            continue
        i = idx[sel] + shift
        mid = _local_mid(buf, i, lv, rising)
        j = _last_other_side(buf, i, mid, rising)
        j = np.where(j < 0, i - 1, j)
        j = np.maximum(j, 0)
        x0 = buf[j].astype(np.float64)
        x1 = buf[np.minimum(j + 1, buf.size - 1)].astype(np.float64)
        denom = x1 - x0
        frac = np.where(denom != 0, (mid - x0) / np.where(denom != 0, denom, 1.0), 0.5)
        out[sel] = j + np.clip(frac, 0.0, 1.0) - shift
    return out


@dataclass
class EdgeScanner:
    """Find edges in a signal fed block by block (state carried between blocks).

    Parameters
    ----------
    levels : Levels
        Thresholds (from :func:`ttl_levels` or :func:`thresholds`).

    Examples
    --------
    >>> scan = EdgeScanner(thresholds(1.0, 2.0))
    >>> for block in blocks:  # doctest: +SKIP
    ...     scan.feed(block)
    >>> rising, falling = scan.result()  # doctest: +SKIP
    """

    levels: Levels
    state: int = 0  # +1 high, -1 low, 0 not known yet
    n_seen: int = 0
    _tail: np.ndarray = field(default_factory=lambda: np.empty(0))
    _rising: list[np.ndarray] = field(default_factory=list)
    _falling: list[np.ndarray] = field(default_factory=list)

    def feed(self, x: np.ndarray) -> None:
        """Scan the next block of samples (1-D; NaNs count as 'between thresholds')."""
        x = np.asarray(x)
        if x.ndim != 1:
            raise InputError(f"edge detection takes 1-D blocks, found shape {x.shape}")
        if x.size == 0:
            return
        lv = self.levels
        s = (x > lv.high).view(np.int8) - (x < lv.low).view(np.int8)
        change = np.flatnonzero(s[1:] != s[:-1]) + 1
        ev = np.concatenate(([0], change))
        val = s[ev]
        keep = val != 0
        ev, val = ev[keep], val[keep]
        prev = np.concatenate(([self.state], val[:-1]))
        turn = val != prev
        ev, val, prev = ev[turn], val[turn], prev[turn]
        known = prev != 0  # the first state of the file is not an edge
        rise = ev[known & (val > 0)]
        fall = ev[known & (val < 0)]
        if val.size:
            self.state = int(val[-1])
        ext = np.concatenate((self._tail, x[:TAIL]))
        n_ext = self._tail.size
        self._rising.append(_crossings(x, ext, n_ext, rise, lv, True) + self.n_seen)
        self._falling.append(_crossings(x, ext, n_ext, fall, lv, False) + self.n_seen)
        self._tail = x[-TAIL:].copy()
        self.n_seen += x.size

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Fractional sample positions (from the first sample fed) of rising and falling edges."""
        rising = np.concatenate(self._rising) if self._rising else np.empty(0)
        falling = np.concatenate(self._falling) if self._falling else np.empty(0)
        return rising, falling


@dataclass(frozen=True)
class Edges:
    """Rising and falling edge times of one TTL channel, in seconds on the master clock.

    Attributes
    ----------
    rising, falling : (n,) ndarray, float64
        Edge times (mid-level crossings), increasing.
    levels : Levels
        Thresholds used.
    rate_hz, t0_s : float
        Sampling of the channel: sample ``n`` is at ``t0_s + n / rate_hz``.
    channel : str
    """

    rising: np.ndarray
    falling: np.ndarray
    levels: Levels
    rate_hz: float
    t0_s: float = 0.0
    channel: str = ""

    def samples(self, times: np.ndarray) -> np.ndarray:
        """Fractional sample indices of ``times`` on this channel's clock."""
        return (np.asarray(times) - self.t0_s) * self.rate_hz

    def widths(self, *, polarity: Literal["rising", "falling"] = "rising") -> np.ndarray:
        """Width of each pulse started by a ``polarity`` edge (s); NaN if it never ends."""
        start, end = (
            (self.rising, self.falling) if polarity == "rising" else (self.falling, self.rising)
        )
        k = np.searchsorted(end, start, side="right")
        ok = k < end.size
        out = np.full(start.size, np.nan)
        out[ok] = end[k[ok]] - start[ok]
        return out


def detect_edges(
    x: np.ndarray,
    *,
    rate_hz: float,
    t0_s: float = 0.0,
    kind: Kind = "analog",
    low: float | None = None,
    high: float | None = None,
    channel: str = "",
    block: int = 1 << 20,
) -> Edges:
    """Detect the edges of a TTL signal.

    Parameters
    ----------
    x : (n_samples,) array_like
        The signal (V for analog; 0/1 or bool for digital).
    rate_hz, t0_s : float
        Sample ``n`` is at time ``t0_s + n / rate_hz`` (s, master clock).
    kind : {"analog", "digital"}
        Analog: thresholds from the signal's levels (:func:`ttl_levels`) unless ``low`` and
        ``high`` are given. Digital: thresholds 0.5 (edges half-way between samples).
    low, high : float, optional
        Hysteresis thresholds overriding the automatic ones (both or neither).
    channel : str
        Name for messages.

    Returns
    -------
    Edges

    Raises
    ------
    InputError
        If the channel has no pulses (with automatic thresholds).
    """
    x = np.asarray(x)
    if x.dtype == bool:
        x = x.view(np.uint8)
    if x.ndim != 1:
        raise InputError(f"{channel or 'signal'}: expected 1-D samples, found shape {x.shape}")
    if (low is None) != (high is None):
        raise InputError(f"{channel or 'signal'}: give both low and high thresholds, or neither")
    if low is not None and high is not None:
        levels = thresholds(low, high)
    elif kind == "digital":
        levels = Levels(0.0, 1.0, 0.0, 0.5, 0.5)
    else:
        levels = ttl_levels(x, name=channel or "signal")
    scan = EdgeScanner(levels)
    for start in range(0, x.size, block):
        scan.feed(x[start : start + block])
    rising, falling = scan.result()
    return Edges(
        t0_s + rising / rate_hz, t0_s + falling / rate_hz, levels, float(rate_hz), t0_s, channel
    )


def split_bursts(times: np.ndarray, *, min_gap_s: float) -> list[slice]:
    """Split increasing event times into bursts separated by gaps longer than ``min_gap_s``.

    Returns
    -------
    list of slice
        One slice of ``times`` per burst, in time order (empty list for no events).
    """
    times = np.asarray(times)
    if times.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(times) > min_gap_s) + 1
    bounds = np.concatenate(([0], cuts, [times.size]))
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
