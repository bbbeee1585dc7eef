"""One trial on one time axis: joint angles, EMG envelopes and force, jump phases shaded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from mocap3d.errors import InputError
from mocap3d.report.figures.common import new_figure, palette, phases, shade_phases
from mocap3d.results import validate_angles, validate_signal

_PREFIX = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"))


def _scaled(values: np.ndarray, unit: str) -> tuple[np.ndarray, str]:
    """Values and unit with an SI prefix so the largest value is ≥ 1 (V → mV → µV)."""
    if unit not in ("V", "N", "A"):
        return values, unit
    peak = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    for factor, prefix in _PREFIX:
        if peak >= factor:
            return values / factor, prefix + unit
    return values / _PREFIX[-1][0], _PREFIX[-1][1] + unit


def plot_trial_timeline(
    *,
    angles: xr.DataArray | None = None,
    envelopes: xr.DataArray | None = None,
    force: xr.DataArray | None = None,
    events: Mapping[str, float] | None = None,
    window: tuple[float, float] | None = None,
    individual: str | None = None,
    title: str = "",
) -> Any:
    """Joint angles, EMG envelopes (one row per muscle) and force on one time axis.

    Parameters
    ----------
    angles : xarray.DataArray, optional
        (time, joint[, individual]), radians; drawn in degrees.
    envelopes : xarray.DataArray, optional
        (time, channel) with a ``unit`` coordinate (and optionally ``muscle``).
    force : xarray.DataArray, optional
        (time, channel) physical force (e.g. the platform's vertical force), coordinate ``unit``.
    events : mapping, optional
        Jump events (s): phases shaded, events marked.
    window : (float, float), optional
        Time range to show (s); default everything.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows: list[tuple[str, Any]] = []
    if angles is not None:
        rows.append(("angles", validate_angles(angles)))
    if envelopes is not None:
        env = validate_signal(envelopes, name="envelopes")
        rows += [("envelope", env.sel(channel=ch)) for ch in env["channel"].values]
    if force is not None:
        rows.append(("force", validate_signal(force, name="force")))
    if not rows:
        raise InputError("plot_trial_timeline needs angles, envelopes or force")
    heights = [2.0 if kind == "angles" else 1.0 if kind == "envelope" else 1.5 for kind, _ in rows]
    fig = new_figure(8.0, 0.9 * sum(heights) + 1.0)
    axes = fig.subplots(len(rows), 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]
    for i, (ax, (kind, data)) in enumerate(zip(axes, rows, strict=True)):
        if events:
            shade_phases(ax, events, labels=i == 0)
            for name in ("takeoff", "landing"):
                if name in events:
                    ax.axvline(events[name], color="k", lw=0.6, ls=":")
        if window is not None:
            data = data.sel(time=slice(*window))
        t = data["time"].values
        if kind == "angles":
            ind = individual or str(data["individual"].values[0])
            joints = [str(j) for j in data["joint"].values]
            for joint, colour in zip(joints, palette(len(joints)), strict=True):
                deg = np.degrees(data.sel(joint=joint, individual=ind).values)
                ax.plot(t, deg, color=colour, lw=1.2, label=joint)
            ax.set_ylabel("angle (°)")
            ax.legend(fontsize=7, ncol=len(joints), loc="lower left")
        elif kind == "envelope":
            values, unit = _scaled(data.values, str(data["unit"].values))
            muscle = str(data["muscle"].values) if "muscle" in data.coords else ""
            ax.plot(t, values, color="C1", lw=0.9)
            ax.set_ylabel(f"{data['channel'].values}\n({unit})", fontsize=8)
            if muscle:
                ax.set_title(muscle, fontsize=7, loc="right", pad=1)
        else:
            for ch, colour in zip(
                data["channel"].values, palette(data.sizes["channel"]), strict=True
            ):
                one = data.sel(channel=ch)
                ax.plot(t, one.values, color=colour, lw=1.0, label=str(ch))
            ax.set_ylabel(f"force ({data['unit'].values[0]})")
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("time (s, session clock)")
    if window is not None:
        axes[-1].set_xlim(*window)
    elif events:
        spans = phases(events)
        if spans:
            lo, hi = spans[0][1], spans[-1][2]
            pad = 0.15 * (hi - lo)
            axes[-1].set_xlim(lo - pad, hi + pad)
    fig.suptitle(title or "joint angles, EMG and force")
    return fig
