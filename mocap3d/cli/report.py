"""``mocap3d report`` and ``mocap3d export``: reports, figures, overlay videos, CSV and NWB."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mocap3d.cli._console import out_console, progress_bar
from mocap3d.errors import InputError

if TYPE_CHECKING:
    from mocap3d.io.project import Project
    from mocap3d.report.build import ReportOptions, SessionOutputs


def resolve_target(path: Path, sessions: list[str]) -> tuple[Project, list[str]]:
    """A project folder, or a session folder inside one → (project, session names)."""
    from mocap3d.io.project import open_project

    if (path / "project.toml").is_file():
        return open_project(path), sessions
    if (path / "session.toml").is_file():
        root = path.resolve().parent.parent
        if not (root / "project.toml").is_file():
            raise InputError(
                f"{path} is a session folder but {root} is not its project (no project.toml); "
                "sessions live in PROJECT/sessions/<name>"
            )
        if sessions and sessions != [path.name]:
            raise InputError(f"--session {sessions} does not match the session folder {path}")
        return open_project(root), [path.resolve().name]
    raise InputError(
        f"{path} is neither a project (project.toml) nor a session folder (session.toml)"
    )


def _summary(page: Path | None, results: list[SessionOutputs]) -> None:
    console = out_console()
    for r in results:
        console.print(f"[bold]{r.session.name}[/]: {r.session.outputs_dir}", highlight=False)
        for kind, p in r.files.items():
            console.print(f"  {kind}: {p}", markup=False, highlight=False)
        for o in r.trials:
            n = len(o.files) + sum(len(v) for v in o.figures.values()) + len(o.videos)
            console.print(f"  {o.trial.name}: {n} file(s) in {o.folder}", markup=False)
        missing = sorted({m for o in r.trials for m in o.missing})
        for m in missing:
            console.print(f"  [yellow]not available:[/] {m}", highlight=False)
    if page is not None:
        console.print(f"[bold]report:[/] {page}", highlight=False)


def _run(path: Path, sessions: list[str], trials: list[str], options: ReportOptions) -> None:
    from mocap3d.report.build import build_project

    project, chosen = resolve_target(path, sessions)
    with progress_bar() as progress:
        page, results = build_project(
            project,
            sessions=chosen or None,
            trials=trials or None,
            options=options,
            progress=progress,
        )
    _summary(page, results)


_SESSION = typer.Option([], "--session", "-s", help="Only these sessions (repeat).")
_TRIAL = typer.Option([], "--trial", "-t", help="Only these trials of each session (repeat).")
_NWB = typer.Option(
    "session", "--nwb", help="NWB files: session (one per session), trial, both or none."
)


def _nwb(mode: str) -> str:
    if mode not in ("session", "trial", "both", "none"):
        raise InputError(f"--nwb must be session, trial, both or none; found {mode!r}")
    return mode


def report(
    path: Path = typer.Argument(..., help="Project folder, or one session folder."),
    session: list[str] = _SESSION,
    trial: list[str] = _TRIAL,
    nwb: str = _NWB,
    videos: bool = typer.Option(True, "--videos/--no-videos", help="Overlay and 3D videos."),
    codec: str = typer.Option("auto", "--codec", help="auto, h264, vp8, mp4v or mjpg."),
    playback_fps: float = typer.Option(50.0, "--playback-fps", help="Frame rate of videos."),
    embed_images: bool = typer.Option(
        False, "--embed-images", help="Put the figures inside the HTML pages."
    ),
) -> None:
    """HTML reports (project, sessions, trials) with figures, overlay videos, CSV and NWB."""
    from mocap3d.report.build import ReportOptions
    from mocap3d.report.overlay import OverlayOptions
    from mocap3d.report.video import resolve_codec

    resolve_codec(codec)  # type: ignore[arg-type]
    if not playback_fps > 0:
        raise InputError(f"--playback-fps must be > 0, found {playback_fps}")
    options = ReportOptions(
        nwb=_nwb(nwb),  # type: ignore[arg-type]
        videos=videos,
        overlay=OverlayOptions(codec=codec, playback_fps=playback_fps),  # type: ignore[arg-type]
        embed_images=embed_images,
    )
    _run(path, session, trial, options)


def export(
    path: Path = typer.Argument(..., help="Project folder, or one session folder."),
    session: list[str] = _SESSION,
    trial: list[str] = _TRIAL,
    nwb: str = _NWB,
    csv: bool = typer.Option(True, "--csv/--no-csv", help="Per-trial CSV of 3D positions/angles."),
) -> None:
    """Exports only: per-trial CSV tables, NWB files and metrics tables (no figures or videos)."""
    import dataclasses

    from mocap3d.report.build import EXPORTS_ONLY

    options = dataclasses.replace(EXPORTS_ONLY, nwb=_nwb(nwb), csv=csv)  # type: ignore[arg-type]
    _run(path, session, trial, options)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("export")(export)
