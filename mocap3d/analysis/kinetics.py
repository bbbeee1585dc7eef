"""Centre-of-mass kinetics from the force (impulse–momentum) and the force-derived jump metrics.

The detrended, tared force ``F`` of :func:`mocap3d.analysis.force.compute_force_events` gives
the centre of mass's vertical acceleration ``a = (F − BW)/m`` with ``m = BW/g``; integrating
from rest (``onset_backoff_s`` before movement onset) gives its velocity and height change,
and ``P = F·v`` its power (Linthorne 2001). Takeoff velocity is the velocity at takeoff, so
the net impulse is ``m·v_takeoff`` and the jump height ``v²/2g``; the flight-time height is
``g·T²/8`` (exact only when the centre of mass lands at its takeoff height).

Phases from the force (McMahon et al. 2018): the crouch (unweighting and braking) runs from
movement onset to the lowest point of the centre of mass, where its velocity turns upward
(**push-off start**); the push-off from there to takeoff; the landing from touchdown to the
instant the centre of mass stops moving down (**landing end**).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from mocap3d.analysis._metrics import Metrics
from mocap3d.analysis._signal import crossing_time, moving_average
from mocap3d.analysis.force import (
    ForceEvents,
    ForceSettings,
    compensate_platform_motion,
    compute_force_events,
    force_trace,
)
from mocap3d.errors import InputError

__all__ = ["FORCE_METRICS", "ForceAnalysis", "compute_com_kinetics", "compute_force_metrics"]

FORCE_METRICS: dict[str, str] = {
    "body_weight_n": "N",
    "body_mass_g": "g",
    "force_noise_mn": "mN",
    "force_offset_n": "N",
    "force_drift_mn_s": "mN/s",
    "force_movement_onset_s": "s",
    "force_pushoff_start_s": "s",
    "force_takeoff_s": "s",
    "force_landing_s": "s",
    "force_landing_end_s": "s",
    "crouch_duration_ms": "ms",
    "pushoff_duration_ms": "ms",
    "flight_time_ms": "ms",
    "crouch_depth_mm": "mm",
    "net_impulse_mns": "mN s",
    "takeoff_velocity_m_s": "m/s",
    "jump_height_impulse_mm": "mm",
    "jump_height_flight_mm": "mm",
    "peak_force_bw": "BW",
    "min_force_bw": "BW",
    "peak_landing_force_bw": "BW",
    "peak_rfd_bw_s": "BW/s",
    "peak_power_w": "W",
    "peak_power_w_kg": "W/kg",
}
"""Every force metric and its unit (docs/analysis.md defines them)."""


@dataclass
class ForceAnalysis:
    """Everything :func:`compute_force_metrics` found for one trial."""

    metrics: Metrics
    events: dict[str, float]
    found: ForceEvents | None
    kinetics: xr.Dataset | None
    notes: list[str] = field(default_factory=list)


def compute_com_kinetics(found: ForceEvents, *, start: float, g: float = 9.81) -> xr.Dataset:
    """Centre-of-mass acceleration, velocity, height change and power from ``start`` on.

    Parameters
    ----------
    found : ForceEvents
        Its detrended, tared force and body weight.
    start : float
        Integration start (s); the animal must be at rest then.
    g : float

    Returns
    -------
    xarray.Dataset over ``time``: ``force`` (N), ``acceleration`` (m/s²), ``velocity``
    (m/s), ``displacement`` (mm), ``power`` (W); attrs ``body_mass_kg``.
    """
    from scipy.integrate import cumulative_trapezoid

    t, f, _ = force_trace(found.force)
    i0 = int(np.clip(np.searchsorted(t, start), 0, t.size - 2))
    tt, ff = t[i0:], f[i0:]
    mass = found.body_weight_n / g
    if not mass > 0:
        raise InputError(
            f"body weight {found.body_weight_n:.4g} N is not positive: is the force channel "
            "tared and its scale and sign right?"
        )
    acc = (ff - found.body_weight_n) / mass
    vel = cumulative_trapezoid(acc, tt, initial=0.0)
    disp = cumulative_trapezoid(vel, tt, initial=0.0)
    return xr.Dataset(
        {
            "force": ("time", ff, {"units": "N", "long_name": "ground reaction force (tared)"}),
            "acceleration": ("time", acc, {"units": "m/s2", "long_name": "COM acceleration"}),
            "velocity": ("time", vel, {"units": "m/s", "long_name": "COM vertical velocity"}),
            "displacement": (
                "time",
                1000 * disp,
                {"units": "mm", "long_name": "COM height change"},
            ),
            "power": ("time", ff * vel, {"units": "W", "long_name": "power F·v"}),
        },
        coords={"time": tt},
        attrs={"body_mass_kg": mass, "integration_start_s": float(tt[0])},
    )


def compute_force_metrics(
    force: xr.DataArray,
    settings: ForceSettings = ForceSettings(),
    *,
    displacement: xr.DataArray | None = None,
    moving_mass_kg: float | None = None,
) -> ForceAnalysis:
    """Jump events and metrics from the vertical force of one trial.

    Parameters
    ----------
    force : DataArray (time), N
        One trial's force, starting in quiet stance and ending after the landing.
    settings : ForceSettings
    displacement, moving_mass_kg
        Platform displacement (mm, up positive) and the platform's moving mass: when both are
        given the force is first corrected
        (:func:`~mocap3d.analysis.force.compensate_platform_motion`).

    Returns
    -------
    ForceAnalysis
        ``metrics`` (:data:`FORCE_METRICS`; NaN with a reason when missing), ``events`` (s:
        movement_onset, pushoff_start, takeoff, landing, landing_end) and ``kinetics``.
    """
    m = Metrics()
    if displacement is not None and moving_mass_kg:
        force = compensate_platform_motion(force, displacement, moving_mass_kg=moving_mass_kg)
    try:
        found = compute_force_events(force, settings)
    except InputError as exc:
        for name, unit in FORCE_METRICS.items():
            m.missing(name, unit, f"force not analysable: {exc}")
        return ForceAnalysis(m, {}, None, None)
    ev = dict(found.events)
    g = settings.g
    bw = found.body_weight_n
    m.set("body_weight_n", bw, "N")
    m.set("body_mass_g", 1000 * bw / g, "g")
    m.set("force_noise_mn", 1000 * found.quiet.sd_n, "mN")
    m.set("force_offset_n", found.offset_n, "N")
    m.set("force_drift_mn_s", 1000 * found.drift_n_per_s, "mN/s")
    kin = None
    if "movement_onset" in ev:
        kin = compute_com_kinetics(
            found, start=ev["movement_onset"] - settings.onset_backoff_s, g=g
        )
        _metrics(m, ev, found, kin, settings)
    for name, unit in FORCE_METRICS.items():
        if name not in m:
            m.missing(name, unit, _why(name, found))
    m.values = {k: m.values[k] for k in FORCE_METRICS}  # table columns in a fixed order
    return ForceAnalysis(m, ev, found, kin, list(found.notes))


_LANDING = {"force_landing_s", "force_landing_end_s", "flight_time_ms", "jump_height_flight_mm",
            "peak_landing_force_bw"}  # fmt: skip


def _why(name: str, found: ForceEvents) -> str:
    """Why metric ``name`` is missing: the missing event it depends on."""
    r = found.reasons
    if name in _LANDING and "landing" in r:
        return r["landing"]
    for event in ("takeoff", "movement_onset"):
        if event in r:
            return r[event]
    return "not computable from this force trace"


def _metrics(
    m: Metrics, ev: dict[str, float], found: ForceEvents, kin: xr.Dataset, s: ForceSettings
) -> None:
    t, grf, rate = force_trace(found.force)
    bw, g = found.body_weight_n, s.g
    tt, v, z = kin["time"].values, kin["velocity"].values, kin["displacement"].values
    on = ev["movement_onset"]
    m.set("force_movement_onset_s", on, "s")
    to, land = ev.get("takeoff", np.nan), ev.get("landing", np.nan)
    if not np.isfinite(to):
        return
    m.set("force_takeoff_s", to, "s")
    i_to = int(np.searchsorted(tt, to))
    v_to = float(np.interp(to, tt, v))
    m.set("takeoff_velocity_m_s", v_to, "m/s")
    m.set("net_impulse_mns", 1000 * v_to * bw / g, "mN s")
    if v_to > 0:
        m.set("jump_height_impulse_mm", 1000 * v_to**2 / (2 * g), "mm")
    else:
        m.missing("jump_height_impulse_mm", "mm", "the takeoff velocity is not upward")
    seg = (t >= on) & (t <= to)
    i_pk = int(np.flatnonzero(seg)[np.argmax(grf[seg])])
    m.set("peak_force_bw", grf[i_pk] / bw, "BW")
    rise = slice(int(np.searchsorted(t, on)), i_pk + 1)
    slope = np.gradient(moving_average(grf, max(round(0.002 * rate), 1)), t)[rise]
    m.set("peak_rfd_bw_s", slope.max() / bw if slope.size else np.nan, "BW/s")
    p = kin["power"].values[(tt >= on) & (tt <= to)]
    m.set("peak_power_w", p.max(), "W")
    m.set("peak_power_w_kg", p.max() / (bw / g), "W/kg")
    down = np.flatnonzero(v[:i_to] <= 0)
    if down.size:
        ps = crossing_time(tt, v, int(down[-1]) + 1, 0.0)
        ev["pushoff_start"] = ps
        m.set("force_pushoff_start_s", ps, "s")
        m.set("crouch_duration_ms", 1000 * (ps - on), "ms")
        m.set("pushoff_duration_ms", 1000 * (to - ps), "ms")
        m.set("crouch_depth_mm", -z[(tt >= on) & (tt <= ps)].min(), "mm")
        m.set("min_force_bw", grf[(t >= on) & (t <= ps)].min() / bw, "BW")
    else:
        why = "no push-off start: the centre of mass never moved down before takeoff"
        for name in ("force_pushoff_start_s", "crouch_duration_ms", "pushoff_duration_ms",
                     "crouch_depth_mm", "min_force_bw"):  # fmt: skip
            m.missing(name, FORCE_METRICS[name], why)
    if not np.isfinite(land):
        return
    m.set("force_landing_s", land, "s")
    m.set("flight_time_ms", 1000 * (land - to), "ms")
    m.set("jump_height_flight_mm", 1000 * g * (land - to) ** 2 / 8, "mm")
    seg = (t >= land) & (t <= land + s.landing_window_s)
    m.set("peak_landing_force_bw", grf[seg].max() / bw, "BW")
    i_l = int(np.searchsorted(tt, land))
    up = np.flatnonzero(v[i_l:] >= 0)
    if up.size:
        ev["landing_end"] = crossing_time(tt, v, i_l + int(up[0]), 0.0)
        m.set("force_landing_end_s", ev["landing_end"], "s")
    else:
        m.missing(
            "force_landing_end_s", "s", "the centre of mass still moved down at the end of the data"
        )
