"""What ``mocap3d analyze`` wrote, as report content: metrics, jump events, EMG envelopes.

The analysis writes one table for the project (``PROJECT/outputs/analysis/metrics.h5``: one
row per trial with ``session``, ``trial``, the metrics, ``events_source`` and ``reasons``), the
joint angles into the session file (``trials/<t>/angles``, read directly) and no envelopes; the
envelopes are computed here with the analysis' own chain and default settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from mocap3d.analysis.groups import LABELS
from mocap3d.io.project import Project, Session
from mocap3d.results import physical

# the analysis' event columns (<source>_<name>_s) → the report's event names
EVENTS = {
    "movement_onset": "onset",
    "pushoff_start": "pushoff_start",
    "takeoff": "takeoff",
    "landing": "landing",
    "landing_end": "landing_end",
}
_PREFIX = {"force": "force_", "kinematics": "kin_"}


def analysis_table_path(project: Project) -> Path:
    """Where ``mocap3d analyze PROJECT`` writes its metrics table."""
    return project.outputs_dir / "analysis" / "metrics.h5"


def session_metrics(project: Project, session: Session) -> pd.DataFrame | None:
    """The analysis' rows of one session, indexed by trial (None without an analysis table)."""
    path = analysis_table_path(project)
    if not path.is_file():
        return None
    from mocap3d.analysis.groups import read_metrics_table

    df = read_metrics_table(path)
    if "session" not in df.columns or "trial" not in df.columns:
        return None
    part = df[df["session"].astype(str) == session.name].copy()
    part = part.drop(columns=[c for c in LABELS if c != "trial" and c in part.columns])
    part = part.set_index(part["trial"].astype(str)).drop(columns=["trial"])
    part.index.name = "trial"
    part.attrs = dict(df.attrs)
    return part


def events_from_metrics(row: Mapping[str, Any]) -> dict[str, float]:
    """Jump events (s) from an analysis row: its ``events_source`` first, then the other."""
    first = _PREFIX.get(str(row.get("events_source", "")), "force_")
    out: dict[str, float] = {}
    for prefix in dict.fromkeys([first, *_PREFIX.values()]):
        for name, event in EVENTS.items():
            value = row.get(f"{prefix}{name}_s")
            if event not in out and isinstance(value, int | float) and np.isfinite(value):
                out[event] = float(value)
    return out


def envelopes_from_signals(signals: Mapping[str, xr.DataArray]) -> xr.DataArray | None:
    """EMG envelopes of the channels of kind ``emg`` (the analysis' default chain), or None."""
    from mocap3d.analysis.emg import compute_emg_envelope

    for sig in signals.values():
        if "kind" not in sig.coords:
            continue
        chans = [str(c) for c, k in zip(sig["channel"].values, sig["kind"].values, strict=True)]
        emg = [c for c, k in zip(chans, sig["kind"].values, strict=True) if k == "emg"]
        if emg:
            phys = physical(sig.sel(channel=emg))
            env = compute_emg_envelope(phys.drop_vars([c for c in ("kind",) if c in phys.coords]))
            keep = {k: phys[k] for k in ("unit", "muscle") if k in phys.coords}
            return env.assign_coords(keep)
    return None
