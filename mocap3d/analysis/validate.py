"""Recovered vs true: a metrics table next to a simulated project's ground truth.

For simulated projects (``truth/truth.h5`` in every session), :func:`truth_comparison` lists,
per trial, each quantity the simulator knows — jump heights, takeoff velocity, event times,
EMG onsets — with the value the analysis recovered and the error. The demo prints its
summary; tests and users can check the analysis on their own rig's simulation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mocap3d.io.project import Project

__all__ = ["summarise_truth_comparison", "truth_comparison"]

_PAIRS = (
    # (table column, truth key, unit, scale from truth to the column's unit)
    ("jump_height_impulse_mm", "jump_height_mm", "mm", 1.0),
    ("jump_height_flight_mm", "jump_height_flight_mm", "mm", 1.0),
    ("takeoff_velocity_m_s", "takeoff_velocity_z", "m/s", 1.0),
    ("body_mass_g", "mass_kg", "g", 1000.0),
    ("force_takeoff_s", "event:takeoff", "s", 1.0),
    ("force_landing_s", "event:landing", "s", 1.0),
    ("force_movement_onset_s", "event:onset", "s", 1.0),
    ("kin_takeoff_s", "event:takeoff", "s", 1.0),
    ("kin_landing_s", "event:landing", "s", 1.0),
)


def truth_comparison(table: pd.DataFrame, project: Project) -> pd.DataFrame:
    """Long table: session, trial, quantity, recovered, truth, error, unit.

    Sessions without a truth file are skipped; NaN recoveries are kept (error NaN).
    """
    from mocap3d.simulate.truth import read_truth

    rows: list[dict[str, object]] = []
    for session in project.sessions():
        path = session.root / "truth" / "truth.h5"
        if not path.is_file():
            continue
        truth = read_truth(path)
        for name, tt in truth.trials.items():
            sel = table[(table["session"] == session.name) & (table["trial"] == name)]
            if sel.empty:
                continue
            row = sel.iloc[0]
            known = {
                "jump_height_mm": tt.attrs["jump_height_mm"],
                "jump_height_flight_mm": tt.attrs["jump_height_flight_mm"],
                "takeoff_velocity_z": float(np.asarray(tt.attrs["takeoff_velocity_m_s"])[2]),
                "mass_kg": tt.attrs["mass_kg"],
                **{f"event:{k}": v for k, v in tt.events.items()},
            }
            for col, key, unit, scale in _PAIRS:
                if col in row:
                    _add(rows, session.name, name, col, float(row[col]), scale * known[key], unit)
            for phase in ("pushoff", "landing"):
                for ch, onset in tt.emg_onsets(phase).items():
                    if phase == "pushoff" and f"{ch}_onset_s" in row:
                        _add(
                            rows,
                            session.name,
                            name,
                            f"{ch}_onset_s",
                            float(row[f"{ch}_onset_s"]),
                            onset,
                            "s",
                        )
                    col = f"{ch}_landing_onset_ms"
                    if phase == "landing" and col in row:
                        true = 1000 * (onset - tt.events["landing"])
                        _add(rows, session.name, name, col, float(row[col]), true, "ms")
    return pd.DataFrame(
        rows, columns=["session", "trial", "quantity", "recovered", "truth", "error", "unit"]
    )


def _add(
    rows: list[dict[str, object]],
    session: str,
    trial: str,
    q: str,
    got: float,
    true: float,
    unit: str,
) -> None:
    rows.append({"session": session, "trial": trial, "quantity": q, "recovered": got,
                 "truth": true, "error": got - true, "unit": unit})  # fmt: skip


def summarise_truth_comparison(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per quantity: n, mean error, max |error|, and (for sizes) max relative error in %."""
    out = []
    for q, d in comparison.groupby("quantity", sort=False):
        e = d["error"].to_numpy(dtype=float)
        ok = np.isfinite(e)
        rel = np.abs(e[ok] / d["truth"].to_numpy(dtype=float)[ok]) * 100
        out.append({
            "quantity": q, "unit": d["unit"].iloc[0], "n": int(ok.sum()),
            "mean_error": e[ok].mean() if ok.any() else np.nan,
            "max_abs_error": np.abs(e[ok]).max() if ok.any() else np.nan,
            "max_rel_error_pct": rel.max() if ok.any() and d["unit"].iloc[0] != "s" else np.nan,
        })  # fmt: skip
    return pd.DataFrame(out)
