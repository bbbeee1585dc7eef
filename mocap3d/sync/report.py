"""The sync report: per camera drops and their positions, clock-fit residuals (µs), a figure.

:func:`sync_report` gathers the numbers into a JSON-ready dict; :func:`plot_sync_report` draws
one figure (fault positions per trial and camera; clock-fit residuals); :func:`write_sync_report`
writes both atomically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mocap3d.io.atomic import atomic_path, write_text_atomic
from mocap3d.sync.clock import ClockFit
from mocap3d.sync.frames import DROPPED, GAP, NO_PULSE, FrameMap

Maps = Mapping[str, Mapping[str, FrameMap]]  # trial -> camera -> FrameMap
MAX_ROWS = 48


def clock_summary(fit: ClockFit) -> dict[str, Any]:
    """A clock fit's numbers with residual percentiles (µs)."""
    out: dict[str, Any] = dict(fit.summary())
    r = np.abs(fit.residual_us[fit.inlier])
    if r.size:
        out.update({f"residual_p{p}_us": float(np.percentile(r, p)) for p in (50, 95, 99)})
    return out


def sync_report(
    maps: Maps,
    *,
    clocks: Mapping[str, ClockFit] | None = None,
    warnings: Sequence[str] = (),
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the sync found, as a JSON-ready dict.

    Returns
    -------
    dict
        ``meta``; ``trials`` (trial → camera → :meth:`FrameMap.summary`); ``cameras``
        (camera → totals over trials: frames, dropped, missing and extra pulses, skipped
        triggers); ``clocks`` (name → offset, drift in ppm, residuals in µs; camera timestamp
        clocks are under ``<trial>/<camera>``); ``warnings``.
    """
    trials = {t: {c: fm.summary() for c, fm in cams.items()} for t, cams in maps.items()}
    totals: dict[str, dict[str, int]] = {}
    for cams in trials.values():
        for cam, s in cams.items():
            tot = totals.setdefault(
                cam,
                {"n_trials": 0, "n_frames": 0, "n_dropped": 0, "n_missing_pulses": 0,
                 "n_extra_pulses": 0, "n_skipped_triggers": 0, "n_unrecorded_pulses": 0},
            )  # fmt: skip
            tot["n_trials"] += 1
            for key in list(tot)[1:]:
                tot[key] += int(s[key])
    all_clocks = {k: clock_summary(v) for k, v in (clocks or {}).items()}
    for t, fms in maps.items():
        for c, fm in fms.items():
            if fm.camera_clock is not None:
                all_clocks[f"{t}/{c}"] = clock_summary(fm.camera_clock)
    all_warnings = list(warnings) + [w for cams in maps.values() for fm in cams.values()
                                     for w in fm.warnings]  # fmt: skip
    return {
        "meta": dict(meta or {}),
        "trials": trials,
        "cameras": totals,
        "clocks": all_clocks,
        "warnings": list(dict.fromkeys(all_warnings)),
    }


def plot_sync_report(maps: Maps, *, clocks: Mapping[str, ClockFit] | None = None) -> Any:
    """Figure: fault positions per trial/camera (left), clock-fit residuals in µs (right).

    Returns a matplotlib Figure (Agg canvas; nothing is shown).
    """
    from matplotlib.figure import Figure

    rows = [(t, c, fm) for t, cams in maps.items() for c, fm in cams.items()][:MAX_ROWS]
    fits = dict(clocks or {})
    for t, c, fm in rows:
        if fm.camera_clock is not None:
            fits[f"{t}/{c}"] = fm.camera_clock
    height = max(3.0, 0.28 * len(rows) + 1.5)
    fig = Figure(figsize=(12, height), layout="constrained")
    ax, ax2 = fig.subplots(1, 2, width_ratios=[3, 2])
    styles = {
        "dropped frame": ("x", "tab:red"),
        "skipped trigger": ("s", "black"),
        "missing pulse": ("o", "tab:orange"),
        "extra pulse": ("|", "tab:purple"),
    }
    seen: set[str] = set()
    for y, (_, _, fm) in enumerate(rows):
        t0 = fm.frame_time[0]
        ax.plot([0, fm.frame_time[-1] - t0], [y, y], color="0.85", lw=4, solid_capstyle="butt")
        events = {
            "dropped frame": fm.slot_time[fm.slot_status == DROPPED],
            "skipped trigger": fm.slot_time[fm.slot_status == GAP],
            "missing pulse": fm.slot_time[fm.slot_status == NO_PULSE],
            "extra pulse": fm.extra_pulse_times,
        }
        for label, times in events.items():
            if times.size:
                marker, colour = styles[label]
                ax.plot(times - t0, np.full(times.size, y), ls="none", marker=marker,
                        color=colour, ms=7, label=None if label in seen else label)  # fmt: skip
                seen.add(label)
    ax.set_yticks(range(len(rows)), [f"{t} / {c} ({fm.n_dropped})" for t, c, fm in rows])
    ax.invert_yaxis()
    ax.set_xlabel("time from the trial's first frame (s)")
    ax.set_title("faults per trial / camera (dropped frames in brackets)")
    if seen:
        ax.legend(loc="lower right", fontsize="small")
    for name, fit in list(fits.items())[:12]:
        x = fit.t_device - fit.t_device.min() if fit.t_device.size else np.arange(fit.n_pairs)
        ax2.plot(x, fit.residual_us, ".", ms=2,
                 label=f"{name}: {fit.drift_ppm:+.2f} ± {fit.drift_se_ppm:.2f} ppm, "
                       f"RMS {fit.rms_us:.1f} µs")  # fmt: skip
    ax2.set_xlabel("device time from the first pair (s)")
    ax2.set_ylabel("residual (µs)")
    ax2.set_title("clock fits: master − fitted time")
    if fits:
        ax2.legend(loc="upper right", fontsize="x-small", markerscale=4)
    else:
        ax2.text(0.5, 0.5, "no clock fits", ha="center", va="center", transform=ax2.transAxes)
    return fig


def write_sync_report(
    report: Mapping[str, Any],
    maps: Maps,
    out_dir: str | Path,
    *,
    clocks: Mapping[str, ClockFit] | None = None,
    stem: str = "sync_report",
) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.png`` into ``out_dir`` (atomically); return the paths."""
    out_dir = Path(out_dir)
    json_path, png_path = out_dir / f"{stem}.json", out_dir / f"{stem}.png"
    write_text_atomic(json_path, json.dumps(report, indent=2, default=_json_default) + "\n")
    fig = plot_sync_report(maps, clocks=clocks)
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return json_path, png_path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
