"""``mocap3d init PROJECT --rig RIG``: create an empty project folder (to calibrate first)."""

from __future__ import annotations

from pathlib import Path

import typer

from mocap3d.cli._console import out_console
from mocap3d.errors import InputError


def init(
    project: Path = typer.Argument(..., help="New project folder (created if missing)."),
    rig: str = typer.Option(
        ..., "--rig", help="Rig TOML file, or a built-in rig name (demo, mouse-jump-4cam)."
    ),
    name: str | None = typer.Option(None, "--name", help="Project name (default: folder name)."),
) -> None:
    """Create an empty project: a copy of the rig and its board, folders for footage and sessions.

    Then film the board into calibration/footage/ and run `mocap3d calibrate --project`.
    """
    from mocap3d.io.project import create_project
    from mocap3d.simulate.project import resolve_rig

    if (project / "project.toml").exists():
        raise InputError(
            f"{project} is already a mocap3d project (it has project.toml); use it as it is, "
            "or choose a new folder"
        )
    if project.exists() and not project.is_dir():
        raise InputError(f"{project} exists and is not a folder; choose a new folder")
    rig_path = resolve_rig(rig)
    made = create_project(project, rig_path, name=name)
    the_rig = made.rig()
    cameras = the_rig.camera_names
    root = made.root
    console = out_console()
    console.print(
        f"created project {made.name!r} in {root} (rig {the_rig.name!r}, "
        f"{len(cameras)} cameras: {', '.join(cameras)})",
        markup=False,
        soft_wrap=True,
    )
    b = the_rig.board
    board = f"{b.squares_x}×{b.squares_y} squares of {b.square_length_mm:g} mm, {b.dictionary}"
    rows = [
        ("project.toml", "project name, layout version, rig file"),
        ("rig.toml", f"copy of {rig_path}"),
        ("board.toml", f"the calibration board: {board}"),
        ("calibration/footage/", "board footage: <camera>.mp4 or <camera>/ image folders"),
        ("sessions/", "one folder per recording session"),
        ("outputs/", "project-wide results (analysis, tracking evaluation, report)"),
    ]
    shown = [(f"{root / p}{'/' if p.endswith('/') else ''}", what) for p, what in rows]
    width = max(len(p) for p, _ in shown) + 2
    for path, what in shown:
        console.print(f"  {path:<{width}}{what}", markup=False, soft_wrap=True)
    footage = made.calibration_footage_dir
    steps = [
        f"mocap3d board print {root / 'board.toml'} --out boards/   (print at 100 %)",
        f"film the board; save one video per camera as {footage}/<camera>.mp4 "
        f"(or an image folder {footage}/<camera>/) for {', '.join(cameras)}",
        f"mocap3d calibrate --project {root}",
        f"mocap3d record --project {root} --session NAME --subject ID --group GROUP",
    ]
    console.print("next steps:", markup=False)
    for i, step in enumerate(steps, 1):
        console.print(f"  {i}. {step}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
