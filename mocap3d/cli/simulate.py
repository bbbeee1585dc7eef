"""``mocap3d simulate trial|project|plan``: synthetic recordings with ground truth, rig planning."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mocap3d.cli._console import out_console, progress_bar
from mocap3d.errors import InputError

if TYPE_CHECKING:
    from mocap3d.simulate.faults import Faults

simulate_app = typer.Typer(
    help="Synthetic rigs: jumping mice filmed by the rig's cameras, DAQ streams, ground truth.",
    no_args_is_help=True,
)

FAULT_NAMES = ("dropped", "ttl", "clock", "blur", "tracking")


def parse_faults(text: str) -> Faults:
    """``none``, ``all`` or a comma list of dropped, ttl, clock, blur, tracking."""
    from mocap3d.simulate.faults import ALL_FAULTS, Faults

    names = [t.strip() for t in text.split(",") if t.strip()]
    if names in ([], ["none"]):
        return Faults()
    if names == ["all"]:
        return ALL_FAULTS
    unknown = [n for n in names if n not in FAULT_NAMES]
    if unknown:
        raise InputError(
            f"--faults: unknown fault(s) {unknown}; use none, all or a comma list of "
            f"{', '.join(FAULT_NAMES)}"
        )
    a = ALL_FAULTS
    f = Faults()
    if "dropped" in names:
        f = replace(f, dropped_frames=a.dropped_frames)
    if "ttl" in names:
        f = replace(f, ttl_missing=a.ttl_missing, ttl_extra=a.ttl_extra)
    if "clock" in names:
        f = replace(
            f,
            syncbox_offset_s=a.syncbox_offset_s,
            syncbox_drift_ppm=a.syncbox_drift_ppm,
            stream_drift_ppm=a.stream_drift_ppm,
        )
    if "blur" in names:
        f = replace(f, motion_blur=a.motion_blur)
    if "tracking" in names:
        f = replace(
            f,
            track_outliers=a.track_outliers,
            track_swaps=a.track_swaps,
            track_missing=a.track_missing,
        )
    return f


def _run(
    out: Path,
    *,
    rig: str,
    groups: list[str],
    subjects: int,
    trials: int,
    seed: int,
    scale: float,
    duration: float,
    faults: str,
    supersample: int,
    workers: int,
    labelled: int,
    video: bool,
    dlc_tracks: bool,
    board_frames: int,
) -> None:
    from mocap3d.simulate.board_footage import footage_hook
    from mocap3d.simulate.project import simulate_project
    from mocap3d.simulate.render import RenderOptions
    from mocap3d.simulate.session import SessionOptions

    if not duration > 0:
        raise InputError(f"--duration must be > 0 s, found {duration}")
    if board_frames < 0:
        raise InputError(f"--board-frames must be ≥ 0 (0: no board footage), found {board_frames}")
    options = SessionOptions(
        duration_s=duration,
        render=RenderOptions(supersample=supersample, workers=workers),
        n_labelled=labelled,
        videos=video,
        dlc_tracks=dlc_tracks,
    )
    with progress_bar() as progress:
        project = simulate_project(
            out,
            rig=rig,
            groups=groups,
            subjects_per_group=subjects,
            trials_per_subject=trials,
            seed=seed,
            scale=scale,
            options=options,
            faults=parse_faults(faults),
            board_footage=(
                footage_hook(board_frames, supersample=supersample, progress=progress)
                if board_frames
                else None
            ),
            progress=progress,
        )
    console = out_console()
    console.print(f"simulated project {project.root}", markup=False)
    for session in project.sessions():
        console.print(
            f"  {session.name} ({session.group}): {len(session.trials())} trial(s), "
            f"truth in {session.root / 'truth' / 'truth.h5'}",
            markup=False,
        )
    console.print(
        f"  true calibration: {project.root / 'truth' / 'calibration.toml'}", markup=False
    )
    if board_frames:
        console.print(
            f"  calibration footage: {project.calibration_footage_dir} ({board_frames} frames "
            f"per camera); next: mocap3d calibrate --project {project.root}",
            markup=False,
        )


_RIG = typer.Option("demo", "--rig", help="Rig file or built-in rig name (demo, mouse-jump-4cam).")
_SEED = typer.Option(0, "--seed", help="Same seed, byte-identical files.")
_SCALE = typer.Option(1.0, "--scale", help="Camera resolution × this factor.")
_DURATION = typer.Option(1.0, "--duration", help="Video length of each trial, s.")
_FAULTS = typer.Option(
    "none", "--faults", help="none, all, or a comma list of dropped, ttl, clock, blur, tracking."
)
_SS = typer.Option(2, "--supersample", help="Anti-aliasing sub-pixels per pixel side (1–4).")
_WORKERS = typer.Option(1, "--workers", help="Processes rendering cameras in parallel.")
_LABELLED = typer.Option(10, "--labelled", help="Labelled frames per camera and trial.")
_VIDEO = typer.Option(
    True, "--video/--no-video", help="Render videos (off: DAQ, board footage and truth only)."
)
_TRACKS = typer.Option(
    False, "--dlc-tracks", help="Also write simulated tracker output as DeepLabCut .h5 files."
)
_BOARD = typer.Option(
    120,
    "--board-frames",
    help="ChArUco board frames per camera in calibration/footage/ (0: none).",
)


@simulate_app.command("trial")
def trial(
    out: Path = typer.Argument(..., help="New project folder."),
    rig: str = _RIG,
    group: str = typer.Option("control", "--group", help="control or perturbed."),
    seed: int = _SEED,
    scale: float = _SCALE,
    duration: float = _DURATION,
    faults: str = _FAULTS,
    supersample: int = _SS,
    workers: int = _WORKERS,
    labelled: int = _LABELLED,
    video: bool = _VIDEO,
    dlc_tracks: bool = _TRACKS,
    board_frames: int = _BOARD,
) -> None:
    """One jump trial of one mouse, as a project folder with ground truth."""
    _run(
        out,
        rig=rig,
        groups=[group],
        subjects=1,
        trials=1,
        seed=seed,
        scale=scale,
        duration=duration,
        faults=faults,
        supersample=supersample,
        workers=workers,
        labelled=labelled,
        video=video,
        dlc_tracks=dlc_tracks,
        board_frames=board_frames,
    )


@simulate_app.command("project")
def project(
    out: Path = typer.Argument(..., help="New project folder."),
    rig: str = _RIG,
    groups: str = typer.Option("control,perturbed", "--groups", help="Comma list of groups."),
    subjects: int = typer.Option(1, "--subjects", help="Mice per group (one session each)."),
    trials: int = typer.Option(3, "--trials", help="Jump trials per mouse."),
    seed: int = _SEED,
    scale: float = _SCALE,
    duration: float = _DURATION,
    faults: str = _FAULTS,
    supersample: int = _SS,
    workers: int = _WORKERS,
    labelled: int = _LABELLED,
    video: bool = _VIDEO,
    dlc_tracks: bool = _TRACKS,
    board_frames: int = _BOARD,
) -> None:
    """Groups × mice × trials of jumps, as a project folder with ground truth."""
    names = [g.strip() for g in groups.split(",") if g.strip()]
    _run(
        out,
        rig=rig,
        groups=names,
        subjects=subjects,
        trials=trials,
        seed=seed,
        scale=scale,
        duration=duration,
        faults=faults,
        supersample=supersample,
        workers=workers,
        labelled=labelled,
        video=video,
        dlc_tracks=dlc_tracks,
        board_frames=board_frames,
    )


@simulate_app.command("plan")
def plan(
    rig: str = typer.Argument(..., help="Rig file or built-in rig (demo, mouse-jump-4cam)."),
    calibration: Path | None = typer.Option(
        None,
        "--calibration",
        help="Layout to assess (Anipose calibration.toml); default the "
        "simulator's layout of the rig.",
    ),
    noise_px: float = typer.Option(1.0, "--noise-px", help="2D tracking error SD per axis, px."),
    jumps: int = typer.Option(4, "--jumps", help="Simulated jumps to average over."),
    draws: int = typer.Option(25, "--draws", help="Noise draws per jump."),
    seed: int = _SEED,
    json_out: Path | None = typer.Option(None, "--json", help="Also write the table as JSON."),
) -> None:
    """Expected 3D error per landmark of a camera layout, and landmarks seen by < 2 cameras."""
    import dataclasses
    import json

    from rich.table import Table

    from mocap3d.camera import CameraGroup
    from mocap3d.io.atomic import write_text_atomic
    from mocap3d.rig import load_rig
    from mocap3d.simulate.planner import plan_rig, plan_table
    from mocap3d.simulate.project import resolve_rig

    r = load_rig(resolve_rig(rig))
    cams = CameraGroup.load(calibration) if calibration is not None else None
    with progress_bar() as progress:
        result = plan_rig(
            r,
            cameras=cams,
            noise_px=noise_px,
            n_jumps=jumps,
            n_draws=draws,
            seed=seed,
            progress=progress,
        )
    table = Table(
        title=f"rig {r.name!r}: expected 3D error with {noise_px:g} px 2D noise "
        f"({jumps} jumps × {draws} draws, DLT)"
    )
    for col in ("landmark", "median mm", "p95 mm", "% frames < 2 views", "mean views"):
        table.add_column(col, justify="left" if col == "landmark" else "right")
    for row in plan_table(result):
        table.add_row(*row)
    console = out_console()
    console.print(table)
    if result.poorly_seen:
        console.print(
            "[yellow]seen by fewer than 2 cameras during part of the jump:[/] "
            + ", ".join(result.poorly_seen)
            + " — these frames cannot be triangulated; consider moving or adding a camera"
        )
    if json_out is not None:
        write_text_atomic(json_out, json.dumps(dataclasses.asdict(result), indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")
