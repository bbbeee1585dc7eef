"""Vertical ground reaction force: quiet stance, drift, body weight and the jump's events.

Input is one force channel as a DataArray over ``time`` (s, master clock) in newtons — e.g.
``read_stream(daq, "slow", channels=["force_z"]).sel(channel="force_z")`` — covering quiet
stance before the jump, the jump and the landing. The platform must be tared (its reading with
nothing on it close to 0 relative to body weight); the remaining offset and the slow drift are
measured, and removed, from the windows where the true force is known to be constant.

Nothing here uses a fixed threshold in newtons (a mouse weighs ~0.25 N): every threshold is
``k`` standard deviations of the noise measured in quiet stance (Owen et al. 2014).

Steps (docs/analysis.md has the definitions and references):

1. **Quiet stance**: the ``quiet_s`` window with the smallest SD before the first unloading;
   its mean is the loaded level, its SD the noise.
2. **Flight**: the first run of ≥ ``min_flight_s`` with the (1 ms-smoothed) force below half
   the loaded level; the median of its middle half is the unloaded level.
3. **Drift**: a linear drift ``c·t`` is fitted from the loaded level before the jump and a
   second quiet-stance window after the landing (if the animal stands on the platform again),
   else from the slopes within the quiet and flight windows; the force is detrended, and body
   weight = loaded − unloaded level.
4. **Takeoff / landing**: where the force reaches / leaves the unloaded level. Coarse: the
   crossing of unloaded level + k·SD. Refined (``edge_method="fit"``): a hinge ``a·s + b·s²``
   (a, b ≥ 0) fitted around the crossing, which removes the lag of a threshold on a smooth
   edge (a 5-SD threshold is ~1 ms early at takeoff on simulated jumps).
5. **Movement onset**: the first sustained (5 ms) departure of the force from body weight by
   more than k·SD, traced back to its last crossing of body weight.

:mod:`mocap3d.analysis.kinetics` integrates the detrended force into velocity, height and
power and computes the jump metrics; :func:`compute_force_metrics` runs both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import xarray as xr

from mocap3d.analysis._signal import (
    crossing_time,
    first_run,
    fit_edge,
    moving_average,
    rolling_mean_sd,
    runs,
)
from mocap3d.errors import InputError

__all__ = [
    "ForceEvents",
    "ForceSettings",
    "QuietStance",
    "compensate_platform_motion",
    "compute_force_events",
    "compute_quiet_stance",
    "force_trace",
]

G = 9.81


@dataclass(frozen=True)
class ForceSettings:
    """Knobs of the force analysis (see the module docstring).

    Attributes
    ----------
    quiet_s : float
        Length of the quiet-stance windows, s.
    quiet_window : (t0, t1) or None
        Use this window as quiet stance instead of searching for one.
    k : float
        Thresholds are k × the noise SD (of the force smoothed over ``smooth_s``).
    smooth_s : float
        Centred moving average applied before thresholds (not before integration).
    min_flight_s : float
        Shortest unloaded run that counts as a flight.
    onset_backoff_s : float
        Integration starts this long before movement onset (Owen et al. 2014: 30 ms).
    edge_method : "fit" or "threshold"
        Takeoff/landing by hinge fit (default) or by the k·SD threshold crossing.
    edge_span_s : float
        Half-width of the hinge fit's search around the crossing.
    landing_window_s : float
        The landing peak force is searched this long after touchdown.
    detrend : bool
        Remove the linear sensor drift (step 3).
    g : float
        Gravitational acceleration, m/s².
    """

    quiet_s: float = 0.1
    quiet_window: tuple[float, float] | None = None
    k: float = 5.0
    smooth_s: float = 0.001
    min_flight_s: float = 0.02
    onset_backoff_s: float = 0.03
    edge_method: Literal["fit", "threshold"] = "fit"
    edge_span_s: float = 0.003
    landing_window_s: float = 0.1
    detrend: bool = True
    g: float = G

    def __post_init__(self) -> None:
        if self.edge_method not in ("fit", "threshold"):
            raise InputError(
                f"edge_method must be 'fit' or 'threshold', found {self.edge_method!r}"
            )
        for name in ("quiet_s", "k", "min_flight_s", "edge_span_s", "g"):
            if not getattr(self, name) > 0:
                raise InputError(f"force setting {name} must be > 0, found {getattr(self, name)}")


@dataclass(frozen=True)
class QuietStance:
    """A quiet-stance window: loaded level (N), its noise (N) and where it is (s)."""

    level_n: float
    sd_n: float  # raw samples
    sd_smooth_n: float  # after the ``smooth_s`` moving average
    t0: float
    t1: float

    @property
    def t_mid(self) -> float:
        return 0.5 * (self.t0 + self.t1)


@dataclass
class ForceEvents:
    """What :func:`compute_force_events` found; times in s, forces in N.

    ``force`` is the detrended, tared force (N) the events were found on; ``reasons`` says why
    an event is missing.
    """

    quiet: QuietStance
    body_weight_n: float
    offset_n: float
    drift_n_per_s: float
    force: xr.DataArray
    events: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def force_trace(force: xr.DataArray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(time, values, rate_hz)`` of a one-channel force DataArray; checks it."""
    if "time" not in force.dims or force.ndim != 1:
        raise InputError(
            f"force must be one channel over 'time' (dims found {list(force.dims)}); select "
            "it, e.g. read_stream(daq, 'slow', channels=['force_z']).sel(channel='force_z')"
        )
    t = np.asarray(force["time"].values, dtype=np.float64)
    f = np.asarray(force.values, dtype=np.float64)
    if t.size < 10 or not np.isfinite(f).all():
        raise InputError(
            f"force trace has {t.size} samples ({int((~np.isfinite(f)).sum())} not finite); "
            "give a gap-free window around the jump"
        )
    rate = float(force.attrs.get("rate_hz") or 1.0 / np.median(np.diff(t)))
    return t, f, rate


def _smooth(f: np.ndarray, rate: float, s: ForceSettings) -> np.ndarray:
    return moving_average(f, max(round(s.smooth_s * rate), 1))


def _quiet_in(t: np.ndarray, f: np.ndarray, fs: np.ndarray, i0: int, i1: int) -> QuietStance:
    return QuietStance(
        float(f[i0:i1].mean()),
        float(f[i0:i1].std()),
        float(fs[i0:i1].std()),
        float(t[i0]),
        float(t[i1 - 1]),
    )


def compute_quiet_stance(
    force: xr.DataArray, settings: ForceSettings = ForceSettings()
) -> QuietStance:
    """Loaded level and noise of quiet stance before the jump (module docstring, step 1).

    Raises
    ------
    InputError
        If there is less than ``quiet_s`` of data before the first unloading.
    """
    t, f, rate = force_trace(force)
    fs = _smooth(f, rate, settings)
    if settings.quiet_window is not None:
        sel = np.flatnonzero((t >= settings.quiet_window[0]) & (t < settings.quiet_window[1]))
        if sel.size < 10:
            raise InputError(f"quiet_window {settings.quiet_window} s holds fewer than 10 samples")
        return _quiet_in(t, f, fs, int(sel[0]), int(sel[-1]) + 1)
    n = max(round(settings.quiet_s * rate), 10)
    low = fs < 0.5 * np.median(f)
    end = int(np.argmax(low)) if low.any() else f.size
    if end < n:
        raise InputError(
            f"the force trace has {end / rate:.3f} s before the first unloading, less than "
            f"the {settings.quiet_s} s of quiet stance needed; start the window earlier"
        )
    _, sd = rolling_mean_sd(f[:end], n)
    i0 = int(np.argmin(sd))
    return _quiet_in(t, f, fs, i0, i0 + n)


def compensate_platform_motion(
    force: xr.DataArray,
    displacement: xr.DataArray,
    *,
    moving_mass_kg: float,
    lowpass_hz: float = 200.0,
) -> xr.DataArray:
    """Remove the platform's inertial force from a load-cell reading.

    A tared load cell under a platform of moving mass ``m_p`` reads ``F_animal + m_p·a_p``,
    where ``a_p`` is the platform's upward acceleration; this returns ``F − m_p·a_p`` with
    ``a_p`` the second derivative of the displacement channel (mm, up positive), low-passed
    (zero-phase 4th-order Butterworth at ``lowpass_hz``) before differentiation.

    Parameters
    ----------
    force : DataArray (time), N
    displacement : DataArray (time), mm, up positive; interpolated to the force's times
    moving_mass_kg : float
        Mass of everything between the animal and the load cell (rig
        ``arena.platform_moving_mass_g``).
    lowpass_hz : float
        Keep it below the platform's resonance only if the resonance is not to be removed;
        the default passes a 180 Hz platform mode.
    """
    from scipy.signal import butter, sosfiltfilt

    t, f, rate = force_trace(force)
    if "time" not in displacement.dims or displacement.ndim != 1:
        raise InputError(
            f"displacement must be one channel over 'time', found dims {list(displacement.dims)}"
        )
    td = np.asarray(displacement["time"].values, dtype=np.float64)
    if td[0] > t[0] + 1 / rate or td[-1] < t[-1] - 1 / rate:
        raise InputError(
            f"displacement covers {td[0]:.3f}–{td[-1]:.3f} s but the force "
            f"{t[0]:.3f}–{t[-1]:.3f} s; read both over the same window"
        )
    z = np.interp(t, td, np.asarray(displacement.values, dtype=np.float64)) / 1000.0
    sos = butter(4, min(lowpass_hz, 0.45 * rate), fs=rate, output="sos")
    z = sosfiltfilt(sos, z)
    acc = np.gradient(np.gradient(z, t), t)
    out = force.copy(data=f - moving_mass_kg * acc)
    out.attrs["platform_compensation"] = (
        f"F - {moving_mass_kg:g} kg x platform acceleration (displacement low-passed at "
        f"{lowpass_hz:g} Hz)"
    )
    return out


def _within_slope(t: np.ndarray, f: np.ndarray, windows: list[slice]) -> float:
    """Common slope of ``f`` over ``t`` within windows (separate intercepts)."""
    num = den = 0.0
    for w in windows:
        tw, fw = t[w], f[w]
        if tw.size > 2:
            dt = tw - tw.mean()
            num += float(dt @ (fw - fw.mean()))
            den += float(dt @ dt)
    return num / den if den > 0 else 0.0


def _post_quiet(
    t: np.ndarray, f: np.ndarray, fs: np.ndarray, after: int, quiet: QuietStance, n: int
) -> QuietStance | None:
    """A quiet-stance window after the landing, at the same loaded level (or None)."""
    if f.size - after < n:
        return None
    _, sd = rolling_mean_sd(f[after:], n)
    i0 = after + int(np.argmin(sd))
    cand = _quiet_in(t, f, fs, i0, i0 + n)
    same = abs(cand.level_n - quiet.level_n) < 0.1 * abs(quiet.level_n)
    return cand if same and cand.sd_n < 2.0 * quiet.sd_n else None


def compute_force_events(
    force: xr.DataArray, settings: ForceSettings = ForceSettings()
) -> ForceEvents:
    """Quiet stance, drift, body weight, movement onset, takeoff and landing (steps 1–5).

    Parameters
    ----------
    force : DataArray (time), N
        One trial's vertical force, starting in quiet stance and ending after the landing.
    settings : ForceSettings

    Returns
    -------
    ForceEvents
        ``events`` holds ``movement_onset``, ``takeoff``, ``landing`` (s) when found, and
        ``reasons`` says why the others are missing.

    Raises
    ------
    InputError
        If the trace is not one finite channel, or has no quiet stance before the jump.
    """
    s = settings
    t, f, rate = force_trace(force)
    quiet = compute_quiet_stance(force, s)
    fs = _smooth(f, rate, s)
    thr = s.k * max(quiet.sd_smooth_n, 1e-12)
    start = int(np.searchsorted(t, quiet.t1))
    r = runs(fs < 0.5 * quiet.level_n)
    r = r[(r[:, 1] - r[:, 0] >= round(s.min_flight_s * rate)) & (r[:, 0] >= start)]
    reasons: dict[str, str] = {}
    notes: list[str] = []
    slope, zero, t_zero = 0.0, 0.0, quiet.t_mid
    windows = [slice(*np.searchsorted(t, [quiet.t0, quiet.t1 + 0.5 / rate]))]
    flight = (int(r[0, 0]), int(r[0, 1])) if len(r) else None
    if flight is None:
        why = (
            f"no flight: the force never fell below half body weight for ≥ "
            f"{1000 * s.min_flight_s:g} ms after quiet stance (no takeoff found)"
        )
        reasons.update(takeoff=why, landing=why)
        notes.append("body weight not corrected for the sensor offset (no flight)")
    else:
        a, b = flight
        q = (b - a) // 4
        mid = slice(a + q, b - q)
        zero, t_zero = float(np.median(f[mid])), float(t[mid].mean())
        windows.append(mid)
        post = _post_quiet(
            t, f, fs, b + int(s.landing_window_s * rate), quiet, windows[0].stop - windows[0].start
        )
        if s.detrend:
            if post is not None:
                slope = (post.level_n - quiet.level_n) / (post.t_mid - quiet.t_mid)
            else:
                slope = _within_slope(t, f, windows)
                notes.append("drift from within-window slopes (no quiet stance after landing)")
    drift = slope * (t - quiet.t_mid)
    fd = f - drift
    fds = fs - drift
    offset = zero - slope * (t_zero - quiet.t_mid)
    bw = quiet.level_n - offset
    tared = force.copy(data=fd - offset)
    tared.attrs.update(units="N", detrended_n_per_s=slope, offset_n=offset)
    out = ForceEvents(quiet, bw, offset, slope, tared, {}, reasons, notes)
    ev = out.events
    stop = t.size
    if flight is not None:
        y = fds - offset
        a, b = flight
        q = (b - a) // 4
        above = np.flatnonzero(y[: a + q] >= thr)
        t_to = crossing_time(t, -y, int(above[-1]) + 1 if above.size else a, -thr)
        after = np.flatnonzero(y[b - q :] >= thr)
        t_land = crossing_time(t, y, b - q + int(after[0]), thr) if after.size else np.nan
        if s.edge_method == "fit":
            raw = fd - offset
            cap = np.where(raw > 0.3 * bw, np.nan, raw)
            span, res = s.edge_span_s, 0.1 / rate
            t_to = fit_edge(t, cap, t_to, side="before", span=span, resolution=res)
            if np.isfinite(t_land):
                t_land = fit_edge(t, cap, t_land, side="after", span=span, resolution=res)
        ev["takeoff"] = t_to
        if np.isfinite(t_land):
            ev["landing"] = t_land
        else:
            reasons["landing"] = "no landing: the force stays unloaded to the end of the data"
        stop = int(np.searchsorted(t, t_to))
    dev = np.abs(fds[start:stop] - quiet.level_n) > thr
    j = first_run(dev, max(round(0.005 * rate), 1), initial=True)
    if j is None:
        reasons["movement_onset"] = (
            f"no movement onset: the force never left body weight by {s.k:g} SD before takeoff"
        )
    else:
        i_dev = start + j
        sign = np.sign(fds[i_dev] - quiet.level_n)
        back = np.flatnonzero(
            sign * (fds[start:i_dev] - quiet.level_n) <= 1e-9 * abs(quiet.level_n)
        )
        i_on = start + int(back[-1]) + 1 if back.size else start
        ev["movement_onset"] = crossing_time(t, fds - quiet.level_n, i_on, 0.0)
    return out
