"""Figures of the analysis (matplotlib, Agg, imported inside the functions).

- :func:`plot_trial`: force (body weights) with the events, EMG envelopes (fraction of the
  session peak) with the detected onsets, joint angles (degrees) with the phases shaded.
- :func:`plot_group_comparison`: one metric by group: trials (small dots), animal means
  (large markers), group mean ± SD, with the test, p-value and Hedges' g in the title.
- :func:`plot_effect_sizes`: Hedges' g with confidence intervals for many metrics.

Every function writes a PNG atomically and returns its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mocap3d.analysis.groups import Comparison
from mocap3d.analysis.jump import PHASES, compute_phases
from mocap3d.analysis.trial import TrialInputs, TrialResult
from mocap3d.io.atomic import atomic_path

__all__ = ["plot_effect_sizes", "plot_group_comparison", "plot_trial"]

_PHASE_COLOURS = {
    "crouch": "#fde0c5",
    "pushoff": "#f9b4ab",
    "flight": "#d4e6f1",
    "landing": "#d5f5e3",
}


def _figure(rows: int, height: float = 2.2) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(rows, 1, figsize=(8, height * rows), squeeze=False, sharex=True)


def _save(fig: Any, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def plot_trial(result: TrialResult, inputs: TrialInputs, path: str | Path) -> Path:
    """Force, EMG and angles of one trial on the master clock (module docstring)."""
    from mocap3d.analysis.angles import to_degrees
    from mocap3d.analysis.emg import compute_emg_envelope

    panels = [p for p in ("force", "emg", "angles") if _has(p, result, inputs)] or ["force"]
    fig, axes = _figure(len(panels))
    ev = result.events
    t0 = inputs.window[0]
    phases = compute_phases(ev, t0)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        for name, (a, b) in phases.items():
            if name in _PHASE_COLOURS and np.isfinite(a) and np.isfinite(b):
                ax.axvspan(a - t0, b - t0, color=_PHASE_COLOURS[name], lw=0)
        if panel == "force" and result.force is not None and result.force.found is not None:
            f = result.force.found.force
            bw = result.force.found.body_weight_n
            ax.plot(f["time"].values - t0, f.values / bw, lw=0.6, color="k")
            ax.set_ylabel("force (BW)")
        elif panel == "emg" and inputs.emg is not None:
            env = compute_emg_envelope(inputs.emg)
            peak = inputs.emg_peak if inputs.emg_peak is not None else env.max("time")
            for i, c in enumerate(env["channel"].values):
                y = env.sel(channel=c).values / float(peak.sel(channel=c)) + i
                ax.plot(env["time"].values - t0, y, lw=0.7, label=str(c))
                on = result.metrics.get(f"{c}_onset_s")
                if np.isfinite(on):
                    ax.plot([on - t0], [i], marker="|", ms=14, color="r")
            ax.set_ylabel("EMG (× session peak)")
            ax.legend(fontsize=6, loc="upper left", ncol=4)
        elif panel == "angles" and result.angles is not None:
            deg = to_degrees(result.angles)
            if "individual" in deg.dims:
                deg = deg.isel(individual=0)
            for j in deg["joint"].values:
                ax.plot(deg["time"].values - t0, deg.sel(joint=j).values, lw=0.8, label=str(j))
            ax.set_ylabel("angle (deg)")
            ax.legend(fontsize=6, loc="upper left", ncol=4)
        for name in ("movement_onset", "takeoff", "landing"):
            if np.isfinite(ev.get(name, np.nan)):
                ax.axvline(ev[name] - t0, color="0.4", lw=0.6, ls="--")
    labels = result.labels
    axes[0, 0].set_title(
        f"{labels.get('session', '')} {labels.get('trial', '')} ({labels.get('group', '')}) — "
        f"events from {result.events_source}; shaded: "
        + ", ".join(p for p in PHASES if p in _PHASE_COLOURS),
        fontsize=8,
    )
    axes[-1, 0].set_xlabel(f"time from {t0:.3f} s (master clock)")
    fig.tight_layout()
    return _save(fig, path)


def _has(panel: str, result: TrialResult, inputs: TrialInputs) -> bool:
    if panel == "force":
        return result.force is not None and result.force.found is not None
    if panel == "emg":
        return inputs.emg is not None
    return result.angles is not None


def plot_group_comparison(
    df: pd.DataFrame, comparison: Comparison, path: str | Path, *, subject: str = "subject"
) -> Path:
    """One metric by group (module docstring)."""
    fig, axes = _figure(1, height=3.6)
    ax = axes[0, 0]
    fig.set_size_inches(4.5, 4.0)
    c = comparison
    rng = np.random.default_rng(0)
    for x, g in enumerate((c.reference, c.other)):
        sub = df[df[c.by].astype(str) == g]
        v = sub[c.metric].to_numpy(dtype=float)
        ok = np.isfinite(v)
        ax.scatter(x + rng.uniform(-0.12, 0.12, ok.sum()), v[ok], s=10, color="0.6", zorder=2)
        if subject in sub:
            means = sub[ok].groupby(subject)[c.metric].mean()
            ax.scatter(
                np.full(len(means), x + 0.25), means.values, s=40, marker="D", color="C0", zorder=3
            )
        if ok.any():
            m, sd = v[ok].mean(), v[ok].std(ddof=1) if ok.sum() > 1 else 0.0
            ax.errorbar([x - 0.25], [m], yerr=[sd], fmt="o", color="k", capsize=4, zorder=4)
    ax.set_xticks([0, 1], [c.reference, c.other])
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylabel(f"{c.metric} ({c.unit})" if c.unit else c.metric, fontsize=8)
    unit = "animals" if c.nesting == "animal" else "trials"
    if np.isfinite(c.p):
        line = (
            f"p = {c.p:.3g}, g = {c.hedges_g:.2f} [{c.g_ci_low:.2f}, {c.g_ci_high:.2f}], "
            f"n = {c.n_reference}/{c.n_other} {unit}"
        )
    else:
        line = c.note or "no test"
    ax.set_title(f"{c.test}, {c.nesting} nesting\n{line}", fontsize=8)
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], ls="", marker="o", ms=4, color="0.6", label="trials"),
        Line2D([], [], ls="", marker="D", ms=6, color="C0", label="animal means"),
        Line2D([], [], ls="-", marker="o", color="k", label="mean ± SD (trials)"),
    ]
    ax.legend(handles=handles, fontsize=6, loc="best")
    fig.tight_layout()
    return _save(fig, path)


def plot_effect_sizes(
    comparisons: pd.DataFrame, path: str | Path, *, max_metrics: int = 40
) -> Path:
    """Hedges' g with its confidence interval per metric (sorted by |g|, at most
    ``max_metrics``); filled markers where p < alpha — Holm-adjusted p where the table has
    it (:func:`~mocap3d.analysis.groups.compare_all`)."""
    d = comparisons[np.isfinite(comparisons["hedges_g"].to_numpy(dtype=float))].copy()
    d = d.reindex(d["hedges_g"].abs().sort_values(ascending=False).index).head(max_metrics)
    fig, axes = _figure(1)
    fig.set_size_inches(6.5, 0.22 * max(len(d), 4) + 1.2)
    ax = axes[0, 0]
    y = np.arange(len(d))[::-1]
    holm = "significant_holm" in d
    sig = d["significant_holm" if holm else "significant"].to_numpy(dtype=bool)
    filled = "Holm p < alpha" if holm else "p < alpha"
    ax.hlines(y, d["g_ci_low"], d["g_ci_high"], color="0.5", lw=1)
    ax.scatter(d["hedges_g"][sig], y[sig], color="C3", zorder=3, s=16, label=filled)
    ax.scatter(
        d["hedges_g"][~sig],
        y[~sig],
        facecolor="white",
        edgecolor="C0",
        zorder=3,
        s=16,
        label="n.s.",
    )
    ax.axvline(0, color="k", lw=0.6)
    ax.set_yticks(y, d["metric"], fontsize=6)
    if len(d):
        r = d.iloc[0]
        ax.set_xlabel(
            f"Hedges' g ({r['other']} − {r['reference']}), {r['test']}, {r['nesting']} nesting"
        )
    ax.legend(fontsize=6)
    fig.tight_layout()
    return _save(fig, path)
