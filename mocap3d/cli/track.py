"""``mocap3d track ...``: 2D tracking with DeepLabCut, from labelled frames to tracks.

Verbs work on a mocap3d project folder (``project.toml``) or, where it makes sense, on a
DeepLabCut project made elsewhere (its folder or ``config.yaml``) and explicit files.
The library (and so torch / DeepLabCut) is imported inside each command, so ``--help`` is fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import typer
from rich.table import Table

from mocap3d.cli._console import out_console, progress_bar
from mocap3d.errors import InputError

track_app = typer.Typer(
    help="2D tracking with DeepLabCut: init → split → extract → (label) → train → analyze → "
    "evaluate.",
    no_args_is_help=True,
)

PROJECT = typer.Argument(..., help="mocap3d project folder (with project.toml)")


def _project(path: Path) -> Any:
    from mocap3d.io.project import open_project

    return open_project(path)


def _is_mocap3d(path: Path) -> bool:
    return (path / "project.toml").is_file()


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InputError(f"{what} must be comma-separated numbers, found {text!r}") from None


@track_app.command("init")
def init(
    project: Path = PROJECT,
    shared: bool = typer.Option(False, "--shared", help="One model for all cameras."),
    scorer: str = typer.Option("mocap3d", help="Labeller name (CollectedData_<scorer>.h5)."),
    net: str = typer.Option("cspnext_s", help="DeepLabCut network type."),
    pcutoff: float = typer.Option(0.8, help="Confidence cut-off written to config.yaml."),
) -> None:
    """Create one DeepLabCut project per camera (or one shared) from the rig's skeleton."""
    from mocap3d.tracking.project import init_tracking

    t = init_tracking(
        _project(project), shared=shared, scorer=scorer, net_type=net, pcutoff=pcutoff
    )
    for model in t.model_names():
        out_console().print(
            f"{model}: {t.model_dir(model) / 'config.yaml'} "
            f"(cameras {', '.join(t.cameras_of(model))})",
            markup=False,
        )


@track_app.command("split")
def split(
    project: Path = PROJECT,
    test_fraction: float = typer.Option(0.2, help="Share of trials for testing."),
    generalisation: list[str] = typer.Option(
        [], "--generalisation", "-g", help="Trial (session/trial) held out entirely; repeat."
    ),
    n_generalisation: int = typer.Option(0, help="Or hold out this many trials at random."),
    seed: int = typer.Option(0, help="Seed of the random split."),
    reset: bool = typer.Option(False, help="Re-split every trial (default: only new ones)."),
) -> None:
    """Split the project's trials into train / test / generalisation (whole trials)."""
    from mocap3d.tracking.project import SPLITS, assign_split, open_tracking

    proj = _project(project)
    held: list[str] | int = list(generalisation) or n_generalisation
    t = assign_split(
        open_tracking(proj),
        proj,
        test_fraction=test_fraction,
        generalisation=held,
        seed=seed,
        keep_existing=not reset,
    )
    for name in SPLITS:
        trials = sorted(k for k, v in t.split.items() if v == name)
        out_console().print(f"{name}: {len(trials)} trials {trials}", markup=False)


@track_app.command("extract")
def extract(
    project: Path = PROJECT,
    frames: int = typer.Option(20, "--frames", "-n", help="Frames to label per video."),
    rare_fraction: float = typer.Option(0.25, help="Share reserved for high-motion frames."),
    camera: list[str] = typer.Option([], "--camera", "-c", help="Only these cameras."),
    trial: list[str] = typer.Option([], "--trial", "-t", help="Only these session/trial ids."),
    step: int = typer.Option(1, help="Read every step-th frame (long videos)."),
    seed: int = typer.Option(0, help="Seed of the k-means frame choice."),
    overwrite: bool = typer.Option(False, help="Re-extract videos that already have frames."),
) -> None:
    """Pick frames to label (k-means on appearance + rare-pose quota) in every split trial."""
    from mocap3d.tracking.frames import extract_frames

    with progress_bar() as bar:
        t = extract_frames(
            _project(project),
            frames_per_video=frames,
            rare_fraction=rare_fraction,
            cameras=camera or None,
            trials=trial or None,
            step=step,
            seed=seed,
            overwrite=overwrite,
            progress=bar,
        )
    out_console().print(
        f"{len(t.videos)} videos have frames to label in {t.root}/<model>/labeled-data/; "
        "label them with DeepLabCut's labelling GUI (napari-deeplabcut)",
        markup=False,
    )


@track_app.command("import-labels")
def import_labels_cmd(
    project: Path = PROJECT,
    source: Path = typer.Argument(..., help="Folder with CollectedData_<scorer>.h5 and images."),
    session: str = typer.Option(..., help="Session the frames come from."),
    trial: str = typer.Option(..., help="Trial the frames come from."),
    camera: str = typer.Option(..., help="Camera the frames come from."),
) -> None:
    """Copy labelled frames made elsewhere into the camera's model."""
    from mocap3d.tracking.labels import import_labels

    import_labels(_project(project), source, session=session, trial=trial, camera=camera)
    out_console().print(f"imported labels of {session}/{trial} {camera}", markup=False)


def _settings(**kw: Any) -> Any:
    from mocap3d.tracking.train import TrainSettings

    return TrainSettings(**kw)


@track_app.command("train")
def train(
    path: Path = typer.Argument(..., help="mocap3d project, or a DeepLabCut project/config.yaml"),
    camera: list[str] = typer.Option([], "--camera", "-c", help="Only these cameras' models."),
    net: str = typer.Option("cspnext_s", help="DeepLabCut network type."),
    epochs: int = typer.Option(60, help="Training epochs."),
    crop: int = typer.Option(256, help="Training crop size (px)."),
    batch_size: int = typer.Option(8, help="Training batch size (images)."),
    lr: float = typer.Option(1e-3, help="Initial learning rate."),
    weights: Path | None = typer.Option(
        None, help="Local weights to start from (never downloaded); default random."
    ),
    load_head: bool = typer.Option(False, help="Also load the heads from --weights."),
    augment: str = typer.Option("light", help="default, light or none."),
    threads: int | None = typer.Option(None, help="torch threads (default: all cores)."),
    test_fraction: float = typer.Option(
        0.2, help="DeepLabCut projects only: share of videos for testing."
    ),
    by_frame: bool = typer.Option(
        False, help="DeepLabCut projects only: split single frames (one-video projects)."
    ),
) -> None:
    """Train the model(s); the best snapshot on the test split is kept."""
    from mocap3d.tracking.labels import video_split
    from mocap3d.tracking.project import open_tracking
    from mocap3d.tracking.train import train_model
    from mocap3d.tracking.workflow import train_project_models

    s = _settings(
        net_type=net,
        epochs=epochs,
        crop_size=crop,
        batch_size=batch_size,
        learning_rate=lr,
        weights=weights,
        load_head_weights=load_head,
        augment=augment,
        threads=threads,
    )
    s.check()
    trained: list[tuple[str, Any]] = []
    with progress_bar() as bar:
        if _is_mocap3d(path):
            project = _project(path)
            t = open_tracking(project)
            models = train_project_models(project, s, cameras=camera or None, progress=bar)
            trained = list({t.model_for(c): m for c, m in models.items()}.items())
        else:
            from mocap3d.tracking.dlcproject import open_dlc_project

            proj = open_dlc_project(path)
            sp = video_split(proj, test_fraction=test_fraction, by="frame" if by_frame else "video")
            trained = [(str(proj.cfg["Task"]), train_model(proj.config_path, sp, s, progress=bar))]
    rows = [
        (name, m, m.training.get("dlc_test_rmse_px", {}).get(str(m.training.get("best_epoch")),
                                                             float("nan")))
        for name, m in trained
    ]  # fmt: skip
    table = Table(title="trained models")
    for col in ("model", "train/test images", "best epoch", "test error (px)", "snapshot"):
        table.add_column(col)
    for name, m, err in rows:
        table.add_row(
            name,
            f"{m.training['n_train']}/{m.training['n_test']}",
            str(m.training["best_epoch"]),
            f"{err:.2f}",
            str(m.snapshot),
        )
    out_console().print(table)


@track_app.command("analyze")
def analyze(
    path: Path = typer.Argument(..., help="mocap3d project (or a model with --video)."),
    camera: list[str] = typer.Option([], "--camera", "-c", help="Only these cameras."),
    session: list[str] = typer.Option([], "--session", "-s", help="Only these sessions."),
    trial: list[str] = typer.Option([], "--trial", "-t", help="Trial names."),
    overwrite: bool = typer.Option(False, help="Analyse again trials done with the same model."),
    video: Path | None = typer.Option(None, help="With a model path: analyse this video."),
    out: Path | None = typer.Option(None, help="With --video: the .h5/.csv tracks to write."),
    batch_size: int = typer.Option(8, help="Frames per network batch."),
    threads: int | None = typer.Option(None, help="torch threads (default: all cores)."),
) -> None:
    """Track every trial and camera (skips trials already analysed with the same model)."""
    if video is not None:
        from mocap3d.tracking.analyze import track_video
        from mocap3d.tracking.infer import Predictor
        from mocap3d.tracking.model import load_model

        model = load_model(path)
        target = out or video.with_name(video.stem + model.scorer + ".h5")
        with progress_bar() as bar:
            predictor = Predictor(model, batch_size=batch_size, threads=threads)
            ds = track_video(predictor, video, target, view=video.stem, progress=bar)
        out_console().print(f"{ds.sizes['time']} frames → {target}", markup=False)
        return
    from mocap3d.tracking.analyze import analyze_project

    with progress_bar() as bar:
        results = analyze_project(
            _project(path),
            cameras=camera or None,
            sessions=session or None,
            trials=trial or None,
            overwrite=overwrite,
            batch_size=batch_size,
            threads=threads,
            progress=bar,
        )
    done = [r for r in results if r.status == "analysed"]
    frames = sum(r.frames for r in done)
    secs = sum(r.seconds for r in done)
    rate = f", {frames / secs:.1f} frames/s" if secs > 0 else ""
    out_console().print(
        f"analysed {len(done)} videos ({frames} frames{rate}); skipped "
        f"{len(results) - len(done)} already analysed with the same model",
        markup=False,
    )


@track_app.command("evaluate")
def evaluate(
    path: Path = typer.Argument(..., help="mocap3d project, DeepLabCut project or model folder"),
    camera: list[str] = typer.Option([], "--camera", "-c", help="Only these cameras' models."),
    pcutoff: float = typer.Option(0.8, help="Confidence cut-off."),
    pck: str = typer.Option("0.05,0.1,0.2", help="PCK thresholds (fractions of body length)."),
    learning_curve: bool = typer.Option(False, help="Also train a learning curve (slow)."),
    frames_per_video: str = typer.Option("1,2,6,10,15,20", help="Learning-curve points."),
    epochs: int = typer.Option(60, help="Learning-curve training epochs."),
    crop: int = typer.Option(256, help="Learning-curve training crop (px)."),
    out: Path | None = typer.Option(None, help="Folder for CSV tables and the figure."),
    threads: int | None = typer.Option(None, help="torch threads (default: all cores)."),
) -> None:
    """MAE (with/without p-cutoff), PCK, miss and swap rates on train/test/generalisation."""
    from mocap3d.tracking.evaluate import evaluate_model
    from mocap3d.tracking.model import load_model
    from mocap3d.tracking.report import learning_curve as run_curve
    from mocap3d.tracking.report import plot_evaluation, write_tables

    thresholds = _floats(pck, "--pck")
    body_length: tuple[str, str] | None = None
    left_right: list[tuple[str, str]] = []
    tracking = None
    if _is_mocap3d(path):
        from mocap3d.tracking.project import open_tracking

        proj = _project(path)
        rig = proj.rig()
        body_length, left_right = rig.skeleton.body_length, list(rig.skeleton.left_right)
        tracking = open_tracking(proj)
        models = (
            list(dict.fromkeys(tracking.model_for(c) for c in camera))
            if camera
            else tracking.model_names()
        )
        jobs = [(m, tracking.model_dir(m)) for m in models]
        out = out or proj.outputs_dir / "tracking"
    else:
        jobs = [(path.name, path)]
        out = out or Path("tracking-evaluation")
    for name, where in jobs:
        model = load_model(where)
        with progress_bar() as bar:
            ev = evaluate_model(
                model,
                body_length=body_length,
                left_right=left_right,
                pcutoff=pcutoff,
                thresholds=thresholds,
                threads=threads,
                progress=bar,
            )
            curve = None
            if learning_curve:
                split = {i: cast(Any, s) for s, imgs in model.images.items() for i in imgs}
                curve = run_curve(
                    model.project_root,
                    split,
                    _settings(epochs=epochs, crop_size=crop, threads=threads),
                    frames_per_video=[int(v) for v in _floats(frames_per_video, "points")],
                    pcutoff=pcutoff,
                    thresholds=thresholds,
                    body_length=body_length,
                    left_right=left_right,
                    progress=bar,
                )
        folder = out / name
        write_tables(ev, folder, curve=curve)
        figure = plot_evaluation(ev, folder / "evaluation.png", curve=curve)
        _print_evaluation(name, ev)
        out_console().print(f"tables and figure: {folder} ({figure.name})", markup=False)
    if tracking is not None:
        from mocap3d.io.atomic import write_text_atomic
        from mocap3d.tracking.analyze import project_jitter

        jit = project_jitter(_project(path), cameras=camera or None, pcutoff=pcutoff)
        if len(jit):
            write_text_atomic(out / "jitter.csv", jit.to_csv(float_format="%.4g"))
            _print_jitter(jit)


def _print_jitter(jit: Any) -> None:
    by_view = jit.groupby(level="view")[["jitter_rms_px", "jitter_rate", "detected"]].mean()
    n_trials = len(jit.index.get_level_values("trial").unique())
    table = Table(title=f"analysed trials ({n_trials}): jitter and detection, mean over keypoints")
    table.add_column("view", no_wrap=True)
    for col in ("jitter RMS px", "jitter > 3 px %", "detected %"):
        table.add_column(col, justify="right", no_wrap=True)
    for view, r in by_view.iterrows():
        table.add_row(
            str(view),
            f"{r['jitter_rms_px']:.2f}",
            f"{100 * r['jitter_rate']:.1f}",
            f"{100 * r['detected']:.1f}",
        )
    out_console().print(table)


def _print_evaluation(name: str, ev: Any) -> None:
    from mocap3d.tracking.report import summary_rows

    table = Table(
        title=f"{name}: error on labelled frames (p-cutoff {ev.pcutoff:g})",
        caption="MAE: mean distance to the labels, px; ≥p: predictions above the p-cutoff "
        "only; miss: labelled points below it; PCK: % within t × body length",
    )
    pck_cols = [c for c in ev.table.columns if c.startswith("pck@")]
    table.add_column("split", no_wrap=True)
    pck_names = [f"PCK{c[4:].removeprefix('0')}" for c in pck_cols]  # pck@0.05 → PCK.05
    for col in ("n", "MAE", "MAE≥p", "miss%", *pck_names):
        table.add_column(col, justify="right", no_wrap=True)
    for r in summary_rows(ev):
        table.add_row(
            r["split"],
            str(int(r["n_labelled"])),
            f"{r['mae_px']:.2f}",
            f"{r['mae_pcutoff_px']:.2f}",
            f"{100 * r['miss_rate']:.0f}",
            *(f"{100 * r[c]:.0f}" for c in pck_cols),
        )
    out_console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(track_app, name="track")
