"""``mocap3d demo``: the main job on built-in synthetic data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mocap3d.cli._console import out_console, progress_bar


def demo(
    workdir: Path = typer.Option(
        Path("demo-output"), "--workdir", "-o", help="Folder for the demo project and results."
    ),
) -> None:
    """Make a synthetic project, run every built stage on it, print recovered vs true values."""
    from mocap3d.demo import run_demo

    with progress_bar() as progress:
        result = run_demo(workdir, progress=progress)
    console = out_console()
    console.print(f"[bold]demo project:[/] {result.project.root}")
    for stage, what in result.stages:
        console.print(f"  [green]✓[/] {stage}: {what}")
    if result.measurements:
        table = Table(title="recovered vs true")
        for col in ("quantity", "recovered", "truth", "error", "unit"):
            table.add_column(col, justify="left" if col == "quantity" else "right")
        for m in result.measurements:
            table.add_row(
                m.quantity, f"{m.recovered:.4g}", f"{m.truth:.4g}", f"{m.error:+.3g}", m.unit
            )
        console.print(table)
    for stage in result.not_built:
        console.print(f"  [yellow]·[/] not built yet: {stage}")
    if result.report_path is not None:
        console.print(f"[bold]report:[/] {result.report_path}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
