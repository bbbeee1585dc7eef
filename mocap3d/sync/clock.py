"""Independent clocks: offset + drift mapped onto the master clock from shared edges.

A device on its own clock (a separate amplifier, the sync box, a camera's timestamps) sees the
same TTL edges as the DAQ. Its time ``t_dev`` maps onto the master clock as::

    t_master = offset_s + (1 + drift) · t_dev          (drift in ppm = 1e6 · drift)

:func:`fit_clock` fits offset and drift robustly from paired edge times: a Theil–Sen-style
start, then iteratively reweighted least squares with Huber weights (scale from the MAD), then a
final least-squares fit on the edges within ``reject`` robust standard deviations. Residuals are
reported in µs. :func:`pair_edges` pairs edges given a rough map (for regular pulse trains);
random-interval barcodes find the pairing themselves (:mod:`mocap3d.sync.barcode`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mocap3d.errors import InputError

HUBER_K = 1.345


@dataclass(frozen=True)
class ClockFit:
    """A fitted map from a device clock to the master clock.

    Attributes
    ----------
    offset_s : float
        Master time of device time 0 (s).
    drift : float
        Relative rate error: ``t_master = offset_s + (1 + drift) · t_dev``.
    residual_s : (n,) ndarray
        Master time minus fitted time of every pair used (s), outliers included.
    inlier : (n,) bool ndarray
        Pairs kept in the final fit.
    device_span_s : float
        Time covered by the pairs on the device clock (s).
    name : str
    t_device : (n,) ndarray
        Device times of the pairs (s), in the order of ``residual_s``.
    drift_se : float
        Standard error of ``drift`` from the residuals (few or closely spaced edges: large).
    """

    offset_s: float
    drift: float
    residual_s: np.ndarray
    inlier: np.ndarray
    device_span_s: float
    name: str = ""
    t_device: np.ndarray = field(default_factory=lambda: np.empty(0))
    drift_se: float = float("nan")

    @property
    def drift_se_ppm(self) -> float:
        return 1e6 * self.drift_se

    @property
    def drift_ppm(self) -> float:
        return 1e6 * self.drift

    @property
    def n_pairs(self) -> int:
        return int(self.residual_s.size)

    @property
    def n_outliers(self) -> int:
        return int((~self.inlier).sum())

    @property
    def residual_us(self) -> np.ndarray:
        return 1e6 * self.residual_s

    @property
    def rms_us(self) -> float:
        r = self.residual_us[self.inlier]
        return float(np.sqrt(np.mean(r**2))) if r.size else float("nan")

    @property
    def max_abs_us(self) -> float:
        r = self.residual_us[self.inlier]
        return float(np.max(np.abs(r))) if r.size else float("nan")

    def to_master(self, t_device: np.ndarray | float) -> np.ndarray:
        """Device times → master times (s)."""
        return self.offset_s + (1.0 + self.drift) * np.asarray(t_device, dtype=np.float64)

    def to_device(self, t_master: np.ndarray | float) -> np.ndarray:
        """Master times → device times (s)."""
        return (np.asarray(t_master, dtype=np.float64) - self.offset_s) / (1.0 + self.drift)

    def summary(self) -> dict[str, float | int | str]:
        """JSON-ready numbers (µs, ppm)."""
        return {
            "name": self.name,
            "offset_s": self.offset_s,
            "drift_ppm": self.drift_ppm,
            "drift_se_ppm": self.drift_se_ppm,
            "n_pairs": self.n_pairs,
            "n_outliers": self.n_outliers,
            "residual_rms_us": self.rms_us,
            "residual_max_us": self.max_abs_us,
            "device_span_s": self.device_span_s,
        }


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted line fit y ≈ b0 + b1·x with x centred (numerically safe for long spans)."""
    sw = w.sum()
    xm, ym = (w * x).sum() / sw, (w * y).sum() / sw
    dx = x - xm
    b1 = float((w * dx * (y - ym)).sum() / (w * dx * dx).sum())
    return float(ym - b1 * xm), b1


def _robust_start(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Median of slopes between pairs half the series apart, then the median intercept."""
    n = x.size
    h = n // 2
    dx = x[h : h + h] - x[:h]
    ok = dx != 0
    slope = float(np.median((y[h : h + h] - y[:h])[ok] / dx[ok])) if ok.any() else 1.0
    return float(np.median(y - slope * x)), slope


def fit_clock(
    t_device: np.ndarray,
    t_master: np.ndarray,
    *,
    reject: float = 5.0,
    min_scale_s: float = 1e-7,
    name: str = "",
) -> ClockFit:
    """Fit ``t_master = offset + (1 + drift) · t_device`` robustly from paired edge times.

    Parameters
    ----------
    t_device, t_master : (n,) ndarray
        The same edges timed on the device clock and on the master clock (s), paired by index.
        NaN pairs are ignored.
    reject : float
        Pairs further than ``reject`` robust standard deviations from the fit are outliers.
    min_scale_s : float
        Floor of the robust scale (s), so that a near-perfect fit does not reject everything.
    name : str
        Device name, for messages and the report.

    Returns
    -------
    ClockFit
        Residuals (s) for every finite pair; ``inlier`` marks those in the final fit.

    Raises
    ------
    InputError
        Fewer than 3 finite pairs, or all on one device time.
    """
    td = np.asarray(t_device, dtype=np.float64)
    tm = np.asarray(t_master, dtype=np.float64)
    if td.shape != tm.shape or td.ndim != 1:
        raise InputError(
            f"clock {name!r}: device and master times must be paired 1-D arrays, found "
            f"{td.shape} and {tm.shape}"
        )
    ok = np.isfinite(td) & np.isfinite(tm)
    td, tm = td[ok], tm[ok]
    if td.size < 3 or np.ptp(td) == 0:
        raise InputError(
            f"clock {name!r}: {td.size} usable edge pair(s) — need at least 3 at different "
            "times to fit offset and drift; record more sync edges"
        )
    # fit y = t_master - t_device against x = t_device - x0: slope = drift, well conditioned
    x0 = float(np.median(td))
    x, y = td - x0, tm - td
    b0, b1 = _robust_start(x, y)
    w = np.ones_like(x)
    step = max(1, x.size // 20_000)  # robust scale from at most 20 000 residuals
    for _ in range(20):
        r = y - (b0 + b1 * x)
        rs = r[::step]
        scale = max(1.4826 * float(np.median(np.abs(rs - np.median(rs)))), min_scale_s)
        u = np.abs(r) / (HUBER_K * scale)
        w = np.where(u <= 1, 1.0, 1.0 / np.maximum(u, 1e-300))
        nb0, nb1 = _wls(x, y, w)
        # converged when the fitted times move by less than 1 ns anywhere
        done = abs(nb0 - b0) + abs(nb1 - b1) * float(np.abs(x).max()) < 1e-9
        b0, b1 = nb0, nb1
        if done:
            break
    r = y - (b0 + b1 * x)
    scale = max(1.4826 * float(np.median(np.abs(r[::step]))), min_scale_s)
    inlier = np.abs(r) <= reject * scale
    if inlier.sum() >= 3:
        b0, b1 = _wls(x[inlier], y[inlier], np.ones(int(inlier.sum())))
    drift = b1
    offset = b0 - b1 * x0  # y = b0 + b1 (td - x0)  →  tm = (b0 - b1 x0) + (1 + b1) td
    residual = tm - (offset + (1 + drift) * td)
    inlier = np.abs(residual) <= reject * scale
    n_in = int(inlier.sum())
    spread = float(np.sum((x[inlier] - x[inlier].mean()) ** 2)) if n_in else 0.0
    se = (
        float(np.sqrt(np.sum(residual[inlier] ** 2) / (n_in - 2) / spread))
        if n_in > 2 and spread > 0
        else float("nan")
    )
    return ClockFit(
        offset_s=float(offset),
        drift=float(drift),
        residual_s=residual,
        inlier=inlier,
        device_span_s=float(np.ptp(td)),
        name=name,
        t_device=td,
        drift_se=se,
    )


def pair_edges(
    t_device: np.ndarray,
    t_master: np.ndarray,
    *,
    offset_s: float = 0.0,
    drift: float = 0.0,
    tolerance_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Pair each device edge with the nearest master edge under a rough clock map.

    Parameters
    ----------
    t_device, t_master : ndarray
        Increasing edge times on each clock (s).
    offset_s, drift : float
        The rough map (``t_master ≈ offset_s + (1 + drift) · t_device``).
    tolerance_s : float
        Largest accepted distance on the master clock; keep it below half the shortest
        interval between edges, or pairs become ambiguous.

    Returns
    -------
    (i_device, i_master) : two (n_pairs,) int ndarrays
        Indices of the paired edges; each master edge is used at most once (the closest).
    """
    td = np.asarray(t_device, dtype=np.float64)
    tm = np.asarray(t_master, dtype=np.float64)
    if td.size == 0 or tm.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pred = offset_s + (1 + drift) * td
    j = np.clip(np.searchsorted(tm, pred), 1, tm.size - 1) if tm.size > 1 else np.zeros_like(td)
    j = np.asarray(j, dtype=np.int64)
    if tm.size > 1:
        left = np.abs(pred - tm[j - 1]) < np.abs(pred - tm[j])
        j = np.where(left, j - 1, j)
    dist = np.abs(pred - tm[j])
    ok = dist <= tolerance_s
    i_dev = np.flatnonzero(ok)
    j_m, d = j[ok], dist[ok]
    order = np.lexsort((d, j_m))
    first = np.ones(order.size, dtype=bool)
    first[1:] = j_m[order][1:] != j_m[order][:-1]
    sel = np.sort(order[first])
    return i_dev[sel], j_m[sel]
