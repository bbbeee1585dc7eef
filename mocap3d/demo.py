"""The built-in demo: the main job on synthetic data, with recovered values next to the truth.

``run_demo`` simulates a project on ``rigs/demo.toml`` (calibration footage of a ChArUco board,
two groups of mice jumping, DAQ streams, labelled frames), trains the DeepLabCut model it needs
(cached: a second run, or another demo folder, reuses it), runs the pipeline
(:func:`mocap3d.pipeline.run_pipeline`) and sets what it recovered against the simulator's
truth. Every number it reports was computed by the pipeline on the simulated recordings.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mocap3d.io.project import Project, open_project
from mocap3d.pipeline.executors import open_executor
from mocap3d.pipeline.result import PipelineResult
from mocap3d.pipeline.run import PipelineSettings, run_pipeline
from mocap3d.progress import Progress, report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    """The demo's size (defaults: 6 trials in 2 groups, ~10 min on a 2-core CPU)."""

    groups: tuple[str, ...] = ("control", "perturbed")
    subjects_per_group: int = 1
    trials_per_subject: int = 3
    duration_s: float = 1.0
    n_labelled: int = 10
    board_frames: int = 120
    epochs: int = 60
    tune_epochs: int = 30
    tune_learning_rate: float = 2e-4
    crop_size: int = 128
    report_videos: bool = True
    seed: int = 0


@dataclass(frozen=True)
class Comparison:
    """A value the demo recovered beside the simulator's truth (error = recovered − truth)."""

    quantity: str
    recovered: float
    truth: float
    unit: str
    n: int = 1

    @property
    def error(self) -> float:
        return self.recovered - self.truth


@dataclass(frozen=True)
class Accuracy:
    """An error against the truth, summarised over many values."""

    quantity: str
    value: float
    unit: str
    detail: str = ""


@dataclass
class DemoResult:
    project: Project
    pipeline: PipelineResult | None = None
    stages: list[tuple[str, str]] = field(default_factory=list)
    accuracy: list[Accuracy] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    report_path: Path | None = None
    executor: str = ""


def default_cache_dir() -> Path:
    """Where trained demo models are kept: ``$MOCAP3D_CACHE`` or ``~/.cache/mocap3d``."""
    base = os.environ.get("MOCAP3D_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "mocap3d"
    )
    return Path(base) / "models"


def _simulate(root: Path, options: DemoOptions, progress: Progress | None) -> Project:
    from mocap3d.simulate.board_footage import footage_hook
    from mocap3d.simulate.project import simulate_project
    from mocap3d.simulate.session import SessionOptions

    return simulate_project(
        root,
        rig="demo",
        groups=list(options.groups),
        subjects_per_group=options.subjects_per_group,
        trials_per_subject=options.trials_per_subject,
        seed=options.seed,
        options=SessionOptions(duration_s=options.duration_s, n_labelled=options.n_labelled),
        board_footage=footage_hook(options.board_frames, progress=progress),
        progress=progress,
    )


def _train(
    project: Project, options: DemoOptions, cache_dir: Path | None, progress: Progress | None
) -> tuple[dict[str, Any], dict[str, set[tuple[str, str]]], bool, list[str]]:
    """Train (or fetch) one DeepLabCut model per camera; trials per split; all cached?"""
    from mocap3d.tracking.labels import image_split, import_simulator_labels
    from mocap3d.tracking.project import assign_split, init_tracking, open_tracking
    from mocap3d.tracking.train import TrainSettings
    from mocap3d.tracking.workflow import cached_model_dir, train_project_models

    tracking = init_tracking(project)
    tracking = assign_split(tracking, project, test_fraction=0.2, generalisation=1, seed=0)
    import_simulator_labels(project)
    settings = TrainSettings(
        epochs=options.epochs, crop_size=options.crop_size, seed=42, threads=os.cpu_count()
    )
    tracking = open_tracking(project)
    cams = list(tracking.models)
    first, others = cams[0], cams[1:]
    retrained: list[str] = []
    cached = cache_dir is not None

    def in_cache(cam: str, s: TrainSettings) -> Path | None:
        if cache_dir is None:
            return None
        name = tracking.model_for(cam)
        split = image_split(tracking, name)
        return cached_model_dir(cache_dir, name, tracking.model_dir(name), split, s)

    def train(cam: str, s: TrainSettings) -> Any:
        nonlocal cached
        stored = in_cache(cam, s)
        cached = cached and stored is not None and (stored / "config.yaml").is_file()
        model = train_project_models(
            project, s, cameras=[cam], cache_dir=cache_dir, progress=progress
        )[cam]
        # a network that did not converge (a camera stuck at > 12 px while the others
        # reach 3-5 px): train it again with another seed, as a person would, and say so
        for attempt in (1, 2):
            if best_test_px(model) <= MAX_TEST_PX:
                break
            log.warning("camera %s: test error %.1f px; training again", cam, best_test_px(model))
            s = replace(s, seed=s.seed + attempt)
            model = train_project_models(
                project, s, cameras=[cam], cache_dir=cache_dir, progress=progress
            )[cam]
            retrained.append(cam)
        return model

    # the first camera from random weights; the others fine-tuned from it (from random
    # weights on ~40 images a camera sometimes never converges; fine-tuning converges in
    # half the epochs). The starting weights are taken from the cache when there is one,
    # so the other cameras' cache keys do not depend on the project's folder.
    models = {first: train(first, settings)}
    start = models[first].snapshot
    stored = in_cache(first, settings)
    if stored is not None:
        with contextlib.suppress(ValueError):
            copy = stored / start.relative_to(tracking.model_dir(tracking.model_for(first)))
            start = copy if copy.is_file() else start
    tuned = replace(
        settings,
        epochs=options.tune_epochs,
        learning_rate=options.tune_learning_rate,
        weights=start,
        load_head_weights=True,
    )
    for cam in others:
        models[cam] = train(cam, tuned)
    splits: dict[str, set[tuple[str, str]]] = {}
    for trial_id, which in tracking.split.items():
        session, trial = trial_id.split("/", 1)
        splits.setdefault(str(which), set()).add((session, trial))
    return models, splits, cached, retrained


MAX_TEST_PX = 12.0
"""A demo network whose best test error is above this has not converged (they reach 3–5 px)."""


def best_test_px(model: Any) -> float:
    """The lowest test error DeepLabCut measured while training (px; inf if none)."""
    errors = model.training.get("dlc_test_rmse_px", {}) or {}
    return min((float(v) for v in errors.values()), default=float("inf"))


def _tracking_accuracy(models: dict[str, Any], rig: Any) -> list[Accuracy]:
    """DeepLabCut's evaluation of each camera's model: MAE on test and held-out images."""
    from mocap3d.tracking.evaluate import evaluate_model

    tables = {
        cam: evaluate_model(m, body_length=rig.skeleton.body_length).table
        for cam, m in models.items()
    }
    out = []
    for split in ("test", "generalisation"):
        rows = {c: t.loc[(split, "all")] for c, t in tables.items() if (split, "all") in t.index}
        if not rows:
            continue
        n = sum(float(r["n_labelled"]) for r in rows.values())
        mae = sum(float(r["mae_px"]) * float(r["n_labelled"]) for r in rows.values()) / n
        per = ", ".join(f"{c} {float(r['mae_px']):.1f}" for c, r in rows.items())
        which = "test images" if split == "test" else "images of the held-out trial"
        out.append(Accuracy(f"2D error, {which}", mae, "px", f"DeepLabCut MAE; {per}"))
    return out


def _pooled(errors: dict[tuple[str, str], np.ndarray], trials: set[tuple[str, str]]) -> np.ndarray:
    parts = [e.ravel() for k, e in errors.items() if k in trials]
    e = np.concatenate(parts) if parts else np.array([])
    return e[np.isfinite(e)]


def _geometry_accuracy(project: Project, splits: dict[str, set[tuple[str, str]]]) -> list[Accuracy]:
    from mocap3d.simulate.compare import angles_vs_truth, calibration_vs_truth, poses3d_errors

    out = []
    cal = calibration_vs_truth(project)
    out.append(
        Accuracy(
            "camera position error",
            float(cal["centre_mm"].median()),
            "mm",
            f"median over cameras (max {cal['centre_mm'].max():.2f})",
        )
    )
    out.append(
        Accuracy(
            "camera orientation error",
            float(cal["rotation_deg"].median()),
            "deg",
            f"median over cameras (max {cal['rotation_deg'].max():.3f})",
        )
    )
    out.append(Accuracy("focal length error", float(cal["focal_percent"].abs().median()), "%",
                        "median over cameras"))  # fmt: skip
    errors = {k: d.values for k, d in poses3d_errors(project).items()}
    held_out = splits.get("test", set()) | splits.get("generalisation", set())
    for label, trials in (("trials the model never saw", held_out),
                          ("trials with labelled frames", splits.get("train", set()))):  # fmt: skip
        e = _pooled(errors, trials)
        if e.size:
            out.append(Accuracy(f"3D error, {label}", float(np.median(e)), "mm",
                                f"median; p95 {np.percentile(e, 95):.2f} mm, "
                                f"{len(trials)} trials"))  # fmt: skip
    ang = angles_vs_truth(project, trials=held_out)
    for joint, d in ang.groupby("joint", sort=False):
        out.append(Accuracy(f"{joint} angle error, held-out trials",
                            float(d["median_deg"].median()), "deg",
                            f"median; p95 {d['p95_deg'].median():.2f} deg"))  # fmt: skip
    return out


_SHOWN = {
    "jump_height_impulse_mm": "jump height (force impulse)",
    "jump_height_flight_mm": "jump height (flight time)",
    "kin_takeoff_s": "takeoff time (3D kinematics)",
    "force_takeoff_s": "takeoff time (force)",
}


def _metric_comparisons(project: Project) -> list[Comparison]:
    from mocap3d.analysis.validate import truth_comparison

    table_path = project.outputs_dir / "analysis" / "metrics.csv"
    if not table_path.is_file():
        return []
    table = pd.read_csv(table_path)
    comp = truth_comparison(table, project)
    daq = project.rig().daq
    channels = daq.channels if daq is not None else []
    emg = {c.name: c.muscle or c.name for c in channels if c.kind == "emg"}
    out = []
    for q, d in comp.groupby("quantity", sort=False):
        name = _SHOWN.get(str(q))
        channel = str(q).removesuffix("_onset_s")
        if name is None and channel in emg:
            name = f"EMG onset, {emg[channel]}"
        if name is None:
            continue
        d = d[np.isfinite(d["error"].astype(float))]
        if d.empty:
            continue
        scale = 1000.0 if d["unit"].iloc[0] == "s" else 1.0
        unit = "ms" if scale == 1000.0 else str(d["unit"].iloc[0])
        worst = d.iloc[int(np.argmax(np.abs(d["error"].to_numpy(float))))]
        out.append(Comparison(f"{name}, worst trial", scale * float(worst["recovered"]),
                              scale * float(worst["truth"]), unit, n=len(d)))  # fmt: skip
    # the group difference the experiment is about: mean jump height per group
    heights = comp[comp["quantity"] == "jump_height_impulse_mm"].copy()
    groups = {s.name: s.group for s in project.sessions()}
    heights["group"] = heights["session"].map(groups)
    means = heights.groupby("group")[["recovered", "truth"]].mean()
    if len(means) == 2:
        a, b = means.index
        diff = means.loc[b] - means.loc[a]
        out.append(Comparison(f"jump height difference {b} − {a}", float(diff["recovered"]),
                              float(diff["truth"]), "mm", n=len(heights)))  # fmt: skip
    return out


def run_demo(
    workdir: str | Path,
    *,
    options: DemoOptions = DemoOptions(),
    scheduler: str = "serial",
    workers: int | None = None,
    cache_dir: str | Path | None = "default",
    progress: Progress | None = None,
) -> DemoResult:
    """Simulate, train, run the pipeline and compare with the truth (module docstring).

    Parameters
    ----------
    workdir : path
        Created; a second run reuses the project and everything still up to date.
    scheduler, workers
        Where the pipeline's tasks run (:func:`mocap3d.pipeline.open_executor`). The cluster
        is started after training, which uses every core of this process (a Dask
        ``LocalCluster`` limits its parent's OpenMP threads to one).
    cache_dir : path, "default" or None
        Trained models kept by their inputs (:func:`default_cache_dir`); None: no cache.
    """
    root = Path(workdir) / "project"
    stages: list[tuple[str, str]] = []
    if (root / "truth" / "simulation.json").is_file():
        project = open_project(root)
        stages.append(("simulate", f"reusing {root}"))
    else:
        project = _simulate(root, options, progress)
        n = sum(len(s.trials()) for s in project.sessions())
        stages.append(("simulate", f"{n} jump trials of {len(project.sessions())} mice in groups "
                       f"{', '.join(options.groups)}; board footage; DAQ streams"))  # fmt: skip
    rig = project.rig()
    cache = default_cache_dir() if cache_dir == "default" else cache_dir
    report(progress, 0, 1, "train DeepLabCut")
    models, splits, cached, retrained = _train(
        project, options, Path(cache) if cache else None, progress
    )
    report(progress, 1, 1, "train DeepLabCut")
    seconds = sum(float(m.training.get("seconds", 0.0)) for m in models.values())
    how = "reused from the cache" if cached else f"trained in {seconds:.0f} s"
    net = next(iter(models.values())).net_type
    first = next(iter(models))
    stages.append(("train", f"one DeepLabCut {net} model per camera ({len(models)}), {how}: "
                   f"{first} from random weights ({options.epochs} epochs), the others "
                   f"fine-tuned from it ({options.tune_epochs} epochs), on "
                   f"{options.n_labelled} labelled frames per video of the training "
                   f"trials"))  # fmt: skip
    if retrained:
        stages.append(("train", f"retrained with another seed (had not converged): "
                       f"{', '.join(sorted(set(retrained)))}"))  # fmt: skip
    settings = PipelineSettings(report_videos=options.report_videos)
    result = DemoResult(project=project, stages=stages)
    with open_executor(scheduler, workers=workers) as executor:
        result.executor = executor.description
        result.pipeline = run_pipeline(project, settings, executor=executor, progress=progress)
    result.report_path = result.pipeline.report_path
    result.accuracy = _tracking_accuracy(models, rig)
    result.accuracy += _geometry_accuracy(project, splits)
    result.comparisons = _metric_comparisons(project)
    return result
