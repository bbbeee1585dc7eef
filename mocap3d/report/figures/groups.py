"""Per-group metric plots: each trial a point, each group a box, one panel per metric."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mocap3d.errors import InputError
from mocap3d.report.figures.common import new_figure, palette


def numeric_metrics(table: pd.DataFrame, *, exclude: Sequence[str] = ()) -> list[str]:
    """Columns of ``table`` that hold numbers (the metrics), in table order."""
    return [
        c
        for c in table.columns
        if c not in exclude and pd.api.types.is_numeric_dtype(table[c]) and table[c].notna().any()
    ]


def plot_group_metrics(
    table: pd.DataFrame,
    *,
    group: str = "group",
    metrics: Sequence[str] | None = None,
    subject: str | None = "session",
    seed: int = 0,
    title: str = "metrics by group",
) -> Any:
    """One panel per metric: a box per group and every trial as a point (coloured by subject).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per trial, a ``group`` column and numeric metric columns (their names carry the
        unit, e.g. ``jump_height_mm``).
    metrics : sequence of str, optional
        Which columns; default every numeric column.
    subject : str, optional
        Column to colour the points by (mouse / session); None for one colour.
    seed : int
        Seed of the horizontal jitter (figures are reproducible).
    """
    if group not in table.columns:
        raise InputError(f"metrics table has no {group!r} column; columns: {list(table.columns)}")
    names = list(metrics) if metrics is not None else numeric_metrics(table, exclude=[group])
    missing = [m for m in names if m not in table.columns]
    if missing or not names:
        raise InputError(f"metrics {missing or names} not in the table {list(table.columns)}")
    groups = list(dict.fromkeys(table[group].astype(str)))
    subjects = (
        list(dict.fromkeys(table[subject].astype(str)))
        if subject and subject in table.columns
        else []
    )
    colours = dict(zip(subjects, palette(len(subjects), "tab20"), strict=True))
    cols = min(len(names), 4)
    rows = int(np.ceil(len(names) / cols))
    fig = new_figure(2.6 * cols + 0.4, 2.6 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    rng = np.random.default_rng(seed)
    for ax, metric in zip(axes, names, strict=False):
        data = [
            table.loc[table[group].astype(str) == g, metric].astype(float).dropna().to_numpy()
            for g in groups
        ]
        ax.boxplot(data, positions=range(len(groups)), widths=0.5, showfliers=False)
        for i, g in enumerate(groups):
            part = table[table[group].astype(str) == g]
            y = part[metric].astype(float).to_numpy()
            x = i + rng.uniform(-0.15, 0.15, size=y.size)
            c = [colours[str(s)] for s in part[subject]] if colours else "C0"
            ax.scatter(x, y, s=14, c=c, zorder=3, edgecolors="none")
        ax.set_xticks(
            range(len(groups)),
            [f"{g}\n(n={len(d)})" for g, d in zip(groups, data, strict=True)],
            fontsize=7,
        )
        ax.set_title(metric, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(title)
    return fig
