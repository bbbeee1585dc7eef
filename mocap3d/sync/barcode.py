"""Random-interval barcodes: sync for devices that share no trigger.

A sync source (the sync box, or the simulator) emits TTL pulses separated by random intervals
drawn from a seeded generator. Every device that records the line — the DAQ on the master
clock, an amplifier or camera on its own — sees the same sequence of intervals; a run of
``window`` consecutive intervals is a fingerprint that occurs once (for intervals drawn from
200–1000 ms and a 2 ms tolerance the chance that four random intervals match is ~1e-9).

- :func:`make_barcode` draws pulse onsets; :func:`render_ttl` turns edge times into a sampled,
  band-limited TTL waveform (for the sync box's schedule, the simulator and tests).
- :func:`barcode_onsets` decodes pulse onsets from detected edges, dropping glitches by width.
- :func:`match_barcode` pairs the onsets seen by two clocks (missing and extra pulses on either
  side are tolerated) and fits the device clock onto the master clock
  (:func:`mocap3d.sync.clock.fit_clock`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mocap3d.errors import InputError
from mocap3d.sync.clock import ClockFit, fit_clock, pair_edges
from mocap3d.sync.edges import Edges


def make_barcode(
    duration_s: float,
    *,
    seed: int | np.random.Generator = 0,
    min_interval_s: float = 0.2,
    max_interval_s: float = 1.0,
    t_start_s: float = 0.0,
) -> np.ndarray:
    """Onset times of a random-interval barcode.

    Parameters
    ----------
    duration_s : float
        Onsets are drawn in ``[t_start_s, t_start_s + duration_s)``.
    seed : int or numpy.random.Generator
        Seed (or generator) of the intervals; the same seed gives the same barcode.
    min_interval_s, max_interval_s : float
        Intervals between onsets are uniform in this range.

    Returns
    -------
    (n,) ndarray
        Onset times (s), increasing.
    """
    if not 0 < min_interval_s < max_interval_s:
        raise InputError(
            f"barcode intervals need 0 < min < max, found {min_interval_s}, {max_interval_s}"
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = int(np.ceil(duration_s / min_interval_s)) + 1
    t = t_start_s + np.cumsum(rng.uniform(min_interval_s, max_interval_s, n))
    return t[t < t_start_s + duration_s]


def render_ttl(
    rising_s: np.ndarray,
    falling_s: np.ndarray,
    *,
    rate_hz: float,
    n_samples: int,
    t0_s: float = 0.0,
    low: float = 0.0,
    high: float = 5.0,
    edge_sigma_s: float = 0.0,
    dtype: type = np.float64,
) -> np.ndarray:
    """Sample a TTL waveform from its edge times.

    Each edge is a Gaussian-smoothed step (an error function of standard deviation
    ``edge_sigma_s``; 0 for ideal steps) centred on its time: the waveform crosses the mid
    level exactly at the edge time. Edges must alternate, starting with a rising edge, and
    pulses must be longer than ``10 · edge_sigma_s``.

    Returns
    -------
    (n_samples,) ndarray
        Sample ``n`` is the waveform at ``t0_s + n / rate_hz``.
    """
    from scipy.special import ndtr

    rising = np.asarray(rising_s, dtype=np.float64)
    falling = np.asarray(falling_s, dtype=np.float64)
    step = np.zeros(n_samples + 1, dtype=np.int8)
    for times, sign in ((rising, 1), (falling, -1)):
        idx = np.ceil((times - t0_s) * rate_hz).astype(np.int64)
        np.add.at(step, np.clip(idx, 0, n_samples), sign)
    state = np.cumsum(step[:n_samples], dtype=np.int16)
    x: np.ndarray = (low + (high - low) * np.clip(state, 0, 1)).astype(dtype)
    if edge_sigma_s > 0:
        half = int(np.ceil(4.5 * edge_sigma_s * rate_hz)) + 1
        offs = np.arange(-half, half + 1)
        for times, rising_edge in ((rising, True), (falling, False)):
            centre = np.round((times - t0_s) * rate_hz).astype(np.int64)
            idx = centre[:, None] + offs[None, :]
            ok = (idx >= 0) & (idx < n_samples)
            t = t0_s + idx / rate_hz
            z = ndtr((t - times[:, None]) / edge_sigma_s)
            v = low + (high - low) * (z if rising_edge else 1 - z)
            x[idx[ok]] = v[ok]
    return x


def barcode_onsets(
    edges: Edges, *, min_width_s: float = 0.0, max_width_s: float = np.inf
) -> np.ndarray:
    """Onsets of barcode pulses whose width is within ``[min_width_s, max_width_s]`` (s)."""
    return barcode_pulses(edges, min_width_s=min_width_s, max_width_s=max_width_s)[:, 0]


def barcode_pulses(
    edges: Edges, *, min_width_s: float = 0.0, max_width_s: float = np.inf
) -> np.ndarray:
    """(n, 2) onset and offset (s) of barcode pulses of accepted width; offset NaN if open."""
    w = edges.widths()
    ok = (w >= min_width_s) & (w <= max_width_s)
    if not np.isfinite(max_width_s):
        ok |= np.isnan(w)  # the last pulse may still be high at the end of the recording
    return np.stack([edges.rising[ok], edges.rising[ok] + w[ok]], axis=1)


@dataclass(frozen=True)
class BarcodeMatch:
    """Onsets paired between a device and the master clock, and the fitted clock map.

    Attributes
    ----------
    clock : ClockFit
        Device clock → master clock.
    i_device, i_master : (n_pairs,) int ndarray
        Indices of the paired onsets.
    n_candidates : int
        Interval fingerprints that matched before the consensus fit.
    """

    clock: ClockFit
    i_device: np.ndarray
    i_master: np.ndarray
    n_candidates: int


def _windows(t: np.ndarray, window: int) -> np.ndarray:
    d = np.diff(t)
    if d.size < window:
        return np.empty((0, window))
    return np.lib.stride_tricks.sliding_window_view(d, window)


def _shift_match(
    td: np.ndarray, tm: np.ndarray, tol: float, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs under the one index shift whose overlapping intervals all agree (short records)."""
    dd, dm = np.diff(td), np.diff(tm)
    found = []
    for shift in range(-(td.size - 3), tm.size - 2):  # master index = device index + shift
        i0 = max(0, -shift)
        i1 = min(td.size, tm.size - shift)
        if i1 - i0 < 3:
            continue
        if np.all(np.abs(dd[i0 : i1 - 1] - dm[i0 + shift : i1 - 1 + shift]) < tol):
            found.append((shift, i0, i1))
    if len(found) > 1:
        raise InputError(
            f"barcode {name!r}: too few pulses to tell how the device's and the master's pulses "
            f"line up ({len(found)} possible alignments); record longer"
        )
    if not found:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    shift, i0, i1 = found[0]
    i = np.arange(i0, i1)
    return i, i + shift


def match_barcode(
    device_onsets: np.ndarray,
    master_onsets: np.ndarray,
    *,
    device_offsets: np.ndarray | None = None,
    master_offsets: np.ndarray | None = None,
    window: int = 4,
    tolerance_s: float = 2e-3,
    max_drift_ppm: float = 1000.0,
    name: str = "device",
) -> BarcodeMatch:
    """Pair barcode onsets seen on a device clock with those on the master clock; fit the map.

    Parameters
    ----------
    device_onsets, master_onsets : ndarray
        Pulse onsets on each clock (s, increasing); either may miss pulses or have extra ones.
    device_offsets, master_offsets : ndarray, optional
        The pulses' ends (same length as the onsets; NaN unknown). When both are given, the
        ends of paired pulses are fitted too: twice the edges, √2 less drift noise — what
        counts when edges are only known to a sample (ideal TTL steps).
    window : int
        Consecutive intervals that make one fingerprint.
    tolerance_s : float
        Timing tolerance of one interval (edge jitter of both devices), s.
    max_drift_ppm : float
        Largest drift between the clocks to allow for.
    name : str
        Device name, for messages and the fit.

    Returns
    -------
    BarcodeMatch

    Raises
    ------
    InputError
        If no run of intervals is shared (different lines, or too few pulses).
    """
    from scipy.spatial import cKDTree

    td = np.asarray(device_onsets, dtype=np.float64)
    tm = np.asarray(master_onsets, dtype=np.float64)
    if min(td.size, tm.size) < 3:
        raise InputError(
            f"barcode {name!r}: {td.size} device and {tm.size} master pulses — need at least 3 "
            "on each side to fit a clock; record longer or check the sync line"
        )
    wd, wm = _windows(td, window), _windows(tm, window)
    d_all = np.concatenate((np.diff(td), np.diff(tm)))
    tol = tolerance_s + 1e-6 * max_drift_ppm * float(d_all.max())
    i_cand = j_cand = np.empty(0, dtype=np.int64)
    if wd.shape[0] and wm.shape[0]:
        dist, j = cKDTree(wm).query(wd, k=1, p=np.inf, distance_upper_bound=tol)
        hit = np.isfinite(dist)
        i_cand, j_cand = np.flatnonzero(hit), j[hit]
    if i_cand.size < 3:  # short recordings: every relative shift of the whole sequences
        i_cand, j_cand = _shift_match(td, tm, tol, name)
    if i_cand.size < 3:
        raise InputError(
            f"barcode {name!r}: the device and the master share no barcode ({i_cand.size} "
            f"matching runs of {window} intervals among {wd.shape[0]} device and {wm.shape[0]} "
            "master runs); check that both record the same sync line, and the time unit of "
            "the device's edge times (seconds)"
        )
    rough = fit_clock(td[i_cand], tm[j_cand], name=name, min_scale_s=tolerance_s / 4)
    if rough.inlier.sum() < 3:
        raise InputError(f"barcode {name!r}: matches do not agree on one clock map")
    min_gap = float(d_all.min())
    i_dev, i_m = pair_edges(
        td,
        tm,
        offset_s=rough.offset_s,
        drift=rough.drift,
        tolerance_s=min(0.4 * min_gap, 4 * tolerance_s),
    )
    fd, fm = td[i_dev], tm[i_m]
    if device_offsets is not None and master_offsets is not None:
        od = np.asarray(device_offsets, dtype=np.float64)
        om = np.asarray(master_offsets, dtype=np.float64)
        if od.shape != td.shape or om.shape != tm.shape:
            raise InputError(f"barcode {name!r}: offsets must match the onsets one to one")
        wd, wm = od[i_dev] - td[i_dev], om[i_m] - tm[i_m]
        same = np.isfinite(wd) & np.isfinite(wm) & (np.abs(wd - wm) < 4 * tolerance_s)
        fd = np.concatenate((fd, od[i_dev][same]))
        fm = np.concatenate((fm, om[i_m][same]))
    clock = fit_clock(fd, fm, name=name)
    if fd.size > i_dev.size:  # a pulse's two edges share its timing error: count pulses
        clock = replace(clock, drift_se=clock.drift_se * float(np.sqrt(fd.size / i_dev.size)))
    return BarcodeMatch(clock=clock, i_device=i_dev, i_master=i_m, n_candidates=int(i_cand.size))
