"""Exposure pulse trains: the regular grid of trigger slots, extra and missing pulses.

A hardware-triggered camera is exposed once per trigger period ``T``; its exposure pulses, as
recorded by the DAQ, should therefore sit on a grid ``a + T·k``. :func:`clean_pulses` fits that
grid robustly to the detected pulse times and sorts every pulse into one of:

- *on the grid*: the pulse of slot ``k`` (its measured, sub-sample time is kept);
- *extra*: a spurious pulse (glitch, double trigger, ringing) — off the grid by more than
  ``tolerance · T``, a second pulse in an occupied slot, or of the wrong width;

and finds the *missing* slots: grid positions between the first and last pulse without a pulse
(the DAQ missed it, or the camera skipped that trigger; frame logs tell which). A missing slot's
time is interpolated from its neighbours.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from mocap3d.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PulseTrain:
    """A burst of exposure pulses on its trigger grid.

    Attributes
    ----------
    slot_time : (n_slots,) ndarray
        Time of each trigger slot, s on the master clock: the measured edge where a pulse was
        recorded, interpolated between neighbours where it is missing.
    measured : (n_slots,) bool ndarray
        True where a pulse was recorded in the slot.
    period_s : float
        Fitted trigger period (s).
    residual_s : (n_slots,) ndarray
        Measured time minus the fitted grid (s); NaN for missing slots.
    extra_times : (n_extra,) ndarray
        Times of the pulses rejected as extra (s).
    extra_reasons : tuple of str
        Why each extra pulse was rejected ("off grid", "duplicate", "width").
    warnings : tuple of str
    """

    slot_time: np.ndarray
    measured: np.ndarray
    period_s: float
    residual_s: np.ndarray
    extra_times: np.ndarray = field(default_factory=lambda: np.empty(0))
    extra_reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.slot_time.size)

    @property
    def missing_slots(self) -> np.ndarray:
        """Indices of slots without a recorded pulse."""
        return np.flatnonzero(~self.measured)

    @property
    def n_detected(self) -> int:
        return int(self.measured.sum())

    @property
    def rate_hz(self) -> float:
        return 1.0 / self.period_s


def _period(times: np.ndarray, nominal: float | None, name: str) -> float:
    d = np.diff(times)
    if nominal is not None:
        near = d[(d > 0.8 * nominal) & (d < 1.2 * nominal)]
        if near.size < max(1, 0.2 * d.size):
            med = float(np.median(d))
            raise InputError(
                f"{name}: exposure pulses come every {1e3 * med:.3f} ms ({1 / med:.4g} Hz) but "
                f"the rig says {1 / nominal:g} fps; fix the camera's fps in the rig, or check "
                "that the channel records this camera's exposure"
            )
        return float(np.median(near))
    med = float(np.median(d))
    near = d[(d > 0.8 * med) & (d < 1.2 * med)]
    return float(np.median(near)) if near.size else med


def fit_grid(
    t: np.ndarray, period: float, tol: float
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Fit ``t ≈ a + T·k``; return a, T, slot k and residual of every pulse.

    The grid is fitted on the first pulses and grown four-fold at a time, so that a small error
    of the starting period cannot wind the slot numbers of a long burst (300 000 pulses).
    """
    n_seg = min(t.size, 64)
    seg = t[:n_seg]
    # phase: circular mean of the pulses' positions within the period (extra pulses are few)
    ang = 2 * np.pi * ((seg - seg[0]) / period)
    a = seg[0] + np.angle(np.mean(np.exp(1j * ang))) / (2 * np.pi) * period
    T = period
    fit_tol = tol
    while True:
        seg = t[:n_seg]
        for _ in range(3 if n_seg <= 4096 else 1):  # a grown grid predicts well: one pass
            k = np.round((seg - a) / T)
            r = seg - (a + T * k)
            good = np.abs(r) < fit_tol * T
            if good.sum() < 2:
                break
            kk, tt = k[good], seg[good]
            km, tm = kk.mean(), tt.mean()
            den = float(np.sum((kk - km) ** 2))
            if den > 0:
                T = float(np.sum((kk - km) * (tt - tm)) / den)
            a = float(tm - T * km)
            if good.sum() > 10 and n_seg <= 4096:  # tighten: pulses sit within µs of the grid
                rg = r[good]
                spread = 1.4826 * float(np.median(np.abs(rg - np.median(rg))))
                fit_tol = min(tol, max(10 * spread / T, 0.02))
        if n_seg == t.size:
            break
        n_seg = min(t.size, 4 * n_seg)
    k = np.round((t - a) / T)
    return a, T, k.astype(np.int64), t - (a + T * k)


def clean_pulses(
    times: np.ndarray,
    *,
    fps: float | None = None,
    widths: np.ndarray | None = None,
    tolerance: float = 0.2,
    width_tolerance: float = 0.5,
    name: str = "exposure pulses",
) -> PulseTrain:
    """Fit the trigger grid to a burst of pulse times; find extra and missing pulses.

    Parameters
    ----------
    times : (n,) ndarray
        Rising-edge times of one burst (s, increasing).
    fps : float, optional
        Nominal frame rate (from the rig); checked against the pulses (±20 %).
    widths : (n,) ndarray, optional
        Pulse widths (s; NaN unknown). Pulses whose width differs from the median by more than
        ``width_tolerance`` of it are extra (glitches).
    tolerance : float
        A pulse further than ``tolerance · T`` from the grid is extra.
    name : str
        For messages (e.g. ``"camera front, trial_003"``).

    Returns
    -------
    PulseTrain

    Raises
    ------
    InputError
        If there are fewer than 3 pulses, or their rate contradicts ``fps``.
    """
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size < 3:
        raise InputError(
            f"{name}: {t.size} exposure pulse(s) — too few to sync; check that the channel "
            "records the camera's exposure (or trigger) output and that the camera ran"
        )
    if np.any(np.diff(t) <= 0):
        raise InputError(f"{name}: pulse times must increase")
    nominal = 1.0 / fps if fps else None
    extra = np.zeros(t.size, dtype=bool)
    reason = np.full(t.size, "", dtype=object)
    if widths is not None:
        w = np.asarray(widths, dtype=np.float64)
        if w.shape != t.shape:
            raise InputError(f"{name}: widths {w.shape} must match times {t.shape}")
        ok = np.isfinite(w)
        if ok.sum() >= 3:
            wm = float(np.median(w[ok]))
            bad = ok & (np.abs(w - wm) > width_tolerance * wm)
            if bad.sum() < 0.5 * t.size:  # only glitches can be the minority
                extra |= bad
                reason[bad] = "width"
    keep = ~extra
    period = _period(t[keep], nominal, name)
    a, T, k, r = fit_grid(t[keep], period, tolerance)
    idx = np.flatnonzero(keep)
    off = np.abs(r) > tolerance * T
    extra[idx[off]] = True
    reason[idx[off]] = "off grid"
    # a second pulse in an occupied slot: keep the one closest to the grid
    on = ~off
    k_on, r_on, i_on = k[on], r[on], idx[on]
    # times increase, so pulses sharing a slot are neighbours: sort only those
    keep_on = np.ones(k_on.size, dtype=bool)
    pair = np.flatnonzero(k_on[1:] == k_on[:-1])
    if pair.size:
        inv = np.unique(np.concatenate((pair, pair + 1)))
        order = inv[np.lexsort((np.abs(r_on[inv]), k_on[inv]))]
        first = np.ones(order.size, dtype=bool)
        first[1:] = k_on[order][1:] != k_on[order][:-1]
        keep_on[order[~first]] = False
    dup = i_on[~keep_on]
    extra[dup] = True
    reason[dup] = "duplicate"
    k_kept, t_kept = k_on[keep_on], t[i_on[keep_on]]
    if k_kept.size < 2:
        raise InputError(f"{name}: fewer than 2 pulses on a regular grid; cannot sync")
    k0 = int(k_kept[0])
    n_slots = int(k_kept[-1]) - k0 + 1
    slot_k = np.arange(n_slots)
    measured = np.zeros(n_slots, dtype=bool)
    measured[k_kept - k0] = True
    slot_time = np.empty(n_slots)
    slot_time[k_kept - k0] = t_kept
    miss = ~measured
    if miss.any():
        slot_time[miss] = np.interp(slot_k[miss], k_kept - k0, t_kept)
    residual = np.full(n_slots, np.nan)
    residual[k_kept - k0] = t_kept - (a + T * k_kept)
    warnings: list[str] = []
    rms = float(np.sqrt(np.nanmean(residual**2)))
    if rms > 0.02 * T:
        warnings.append(
            f"{name}: pulses deviate from a regular grid by {1e6 * rms:.1f} µs RMS "
            f"({100 * rms / T:.1f} % of the period); are the cameras free-running?"
        )
    if nominal is not None and abs(T / nominal - 1) > 0.01:
        warnings.append(
            f"{name}: pulse rate {1 / T:.4f} Hz differs from the rig's {1 / nominal:g} fps "
            f"by {100 * (T / nominal - 1):+.2f} %"
        )
    for w_ in warnings:
        log.warning(w_)
    return PulseTrain(
        slot_time=slot_time,
        measured=measured,
        period_s=T,
        residual_s=residual,
        extra_times=t[extra],
        extra_reasons=tuple(str(x) for x in reason[extra]),
        warnings=tuple(warnings),
    )
