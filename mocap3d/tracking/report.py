"""Learning curves, tables and figures of a tracking evaluation.

A learning curve trains one network per number of labelled frames per video (1, 2, 6, 10,
15, 20 by default; test and generalisation images stay the same) and evaluates each: it tells
whether labelling more frames would still pay.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mocap3d.errors import InputError
from mocap3d.io.atomic import atomic_path, write_text_atomic
from mocap3d.progress import Progress, report
from mocap3d.tracking.dlcproject import DLCProject, open_dlc_project
from mocap3d.tracking.evaluate import (
    DEFAULT_PCK,
    DEFAULT_PCUTOFF,
    SPLIT_ORDER,
    Evaluation,
    evaluate_model,
)
from mocap3d.tracking.project import SplitName
from mocap3d.tracking.train import TrainSettings, frames_per_video_subset, train_model

DEFAULT_CURVE = (1, 2, 6, 10, 15, 20)


def learning_curve(
    project: DLCProject | str | Path,
    split: dict[str, SplitName],
    settings: TrainSettings | None = None,
    *,
    frames_per_video: Sequence[int] = DEFAULT_CURVE,
    pcutoff: float = DEFAULT_PCUTOFF,
    thresholds: Sequence[float] = DEFAULT_PCK,
    body_length: tuple[str, str] | None = None,
    left_right: Sequence[tuple[str, str]] = (),
    progress: Progress | None = None,
) -> Any:
    """Train and evaluate one model per number of labelled training frames per video.

    Returns
    -------
    pandas.DataFrame
        One row per (frames_per_video, split) with ``n_train`` (training images used),
        ``mae_px``, ``mae_pcutoff_px``, ``miss_rate`` and the PCK columns (overall rows of
        each evaluation); the models are kept as extra shuffles of the project, marked
        ``purpose = "learning_curve"``.
    """
    import pandas as pd

    proj = project if isinstance(project, DLCProject) else open_dlc_project(project)
    counts = sorted({int(n) for n in frames_per_video})
    if not counts or counts[0] < 1:
        raise InputError(f"frames per video must be ≥ 1, found {list(frames_per_video)}")
    s = settings or TrainSettings()
    rows = []
    for i, n in enumerate(counts):
        report(progress, i, len(counts), "learning curve")
        sub = frames_per_video_subset(split, n)
        model = train_model(proj, sub, s, purpose="learning_curve")
        ev = evaluate_model(
            model,
            proj,
            pcutoff=pcutoff,
            thresholds=thresholds,
            body_length=body_length,
            left_right=left_right,
            threads=s.threads,
        )
        n_train = sum(1 for v in sub.values() if v == "train")
        for split_name in ev.table.index.get_level_values("split").unique():
            row = ev.table.loc[(split_name, "all")].to_dict()
            rows.append({"frames_per_video": n, "n_train": n_train, "split": split_name, **row})
    report(progress, len(counts), len(counts), "learning curve")
    return pd.DataFrame(rows).set_index(["frames_per_video", "split"])


def write_tables(ev: Evaluation, folder: str | Path, *, curve: Any = None) -> list[Path]:
    """Write ``evaluation.csv``, ``swaps.csv`` (and ``learning_curve.csv``) atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, df in (("evaluation", ev.table), ("swaps", ev.swaps), ("learning_curve", curve)):
        if df is None:
            continue
        path = folder / f"{name}.csv"
        write_text_atomic(path, df.to_csv(float_format="%.4g"))
        out.append(path)
    return out


def summary_rows(ev: Evaluation) -> list[dict[str, Any]]:
    """The overall row of each split, for printing."""
    rows = []
    for split in SPLIT_ORDER:
        if (split, "all") in ev.table.index:
            rows.append({"split": split, **ev.table.loc[(split, "all")].to_dict()})
    return rows


def plot_evaluation(ev: Evaluation, path: str | Path, *, curve: Any = None) -> Path:
    """A figure: MAE per bodypart and split (with and without p-cutoff), PCK against the
    threshold, and the learning curve if given. Written atomically (format from suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    splits = [s for s in SPLIT_ORDER if s in ev.table.index.get_level_values("split")]
    keypoints = [k for k in ev.table.loc[splits[0]].index if k != "all"] + ["all"]
    n_panels = 3 if curve is not None else 2
    fig, axes = plt.subplots(1, n_panels, figsize=(5.5 * n_panels, 4.2), squeeze=False)
    ax = axes[0, 0]
    width = 0.8 / max(1, len(splits))
    x = np.arange(len(keypoints))
    colours = {"train": "#4477aa", "test": "#ee6677", "generalisation": "#228833"}
    for i, split in enumerate(splits):
        t = ev.table.loc[split]
        ax.bar(
            x + i * width,
            t.loc[keypoints, "mae_px"],
            width,
            color=colours.get(split),
            label=f"{split}",
        )
        ax.scatter(
            x + i * width,
            t.loc[keypoints, "mae_pcutoff_px"],
            marker="_",
            s=120,
            color="k",
            zorder=3,
            label=f"p ≥ {ev.pcutoff:g}" if i == 0 else None,
        )
    ax.set_xticks(x + width * (len(splits) - 1) / 2, keypoints, rotation=45, ha="right")
    ax.set_ylabel("mean error (px)")
    ax.set_title("error per bodypart")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    pck_cols = [c for c in ev.table.columns if c.startswith("pck@")]
    for split in splits:
        ax.plot(
            ev.thresholds,
            ev.table.loc[(split, "all"), pck_cols].astype(float) * 100,
            "o-",
            color=colours.get(split),
            label=split,
        )
    ax.set_xlabel("threshold (fraction of body length)" if ev.body_length else "threshold")
    ax.set_ylabel("PCK (%)")
    ax.set_ylim(0, 102)
    ax.set_title("correct keypoints")
    ax.legend(fontsize=8)
    if curve is not None:
        ax = axes[0, 2]
        for split in [s for s in SPLIT_ORDER if s in curve.index.get_level_values("split")]:
            c = curve.xs(split, level="split")
            ax.plot(c.index, c["mae_px"], "o-", color=colours.get(split), label=split)
        ax.set_xlabel("labelled frames per video")
        ax.set_ylabel("mean error (px)")
        ax.set_title("learning curve")
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)
    return path
