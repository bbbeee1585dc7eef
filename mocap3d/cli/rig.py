"""``mocap3d rig check RIG.toml``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mocap3d.cli._console import out_console
from mocap3d.rig import load_rig

rig_app = typer.Typer(help="Rig definitions: check a rig TOML file.", no_args_is_help=True)


@rig_app.command("check")
def check(
    rig: Path = typer.Argument(..., help="Rig TOML file, e.g. rigs/mouse-jump-4cam.toml"),
) -> None:
    """Validate a rig file and report every problem at once (exit 2 if any)."""
    r = load_rig(rig)
    console = out_console()
    table = Table(title=f"rig {r.name!r} — OK", show_header=True)
    table.add_column("camera")
    table.add_column("resolution")
    table.add_column("fps", justify="right")
    table.add_column("lens")
    table.add_column("exposure channel")
    for c in r.cameras:
        table.add_row(
            c.name,
            f"{c.resolution[0]}×{c.resolution[1]}",
            f"{c.fps:g}",
            c.lens,
            c.exposure_channel or "—",
        )
    console.print(table)
    b = r.board
    console.print(
        f"board: {b.name} — {b.squares_x}×{b.squares_y} squares of "
        f"{b.square_length_mm:g} mm, {b.dictionary}",
        markup=False,
    )
    if r.daq is not None:
        for name, s in r.daq.streams.items():
            chans = ", ".join(f"{c.name} [{c.unit}]" for c in r.channels_of(name))
            console.print(f"DAQ stream {name}: {s.rate_hz:g} Hz — {chans}", markup=False)
    console.print(
        f"skeleton: {len(r.keypoints)} keypoints, {len(r.skeleton.bones)} bones; "
        f"angles: {', '.join(r.angles) or 'none'}",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(rig_app, name="rig")
