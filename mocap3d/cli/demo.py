"""``mocap3d demo``: the main job on built-in synthetic data, recovered vs true values."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mocap3d.cli._console import out_console, progress_bar


def demo(
    workdir: Path = typer.Option(
        Path("demo-output"), "--workdir", "-o", help="Folder for the demo project and results."
    ),
    scheduler: str = typer.Option(
        "local", "--scheduler", help="local (Dask, loopback only), serial, or tcp://HOST:PORT."
    ),
    workers: int = typer.Option(
        0,
        "--workers",
        "-j",
        help="Local workers (0: one per core).",
    ),
    cache: bool = typer.Option(
        True, "--cache/--no-cache", help="Reuse a trained model from ~/.cache/mocap3d."
    ),
    videos: bool = typer.Option(True, "--videos/--no-videos", help="Overlay videos in the report."),
    trials: int = typer.Option(3, "--trials", help="Trials per mouse (2 mice, 2 groups)."),
) -> None:
    """Simulate a project (board footage, 2 groups of jumping mice, DAQ), train its DeepLabCut models (one per camera), run the whole pipeline on it and print what it recovered next to the truth."""  # noqa: E501
    from mocap3d.cli.run import exit_code, print_summary
    from mocap3d.demo import DemoOptions, run_demo
    from mocap3d.errors import InputError

    if trials < 2:
        raise InputError(f"--trials must be ≥ 2 (one is held out from training), found {trials}")
    options = DemoOptions(trials_per_subject=trials, report_videos=videos)
    with progress_bar() as progress:
        result = run_demo(
            workdir,
            options=options,
            scheduler=scheduler,
            workers=workers or None,
            cache_dir="default" if cache else None,
            progress=progress,
        )
    console = out_console()
    console.print(f"[bold]demo project:[/] {result.project.root} ({result.executor})")
    for stage, what in result.stages:
        console.print(f"  [green]✓[/] {stage}: {what}", highlight=False)
    if result.pipeline is not None:
        print_summary(result.pipeline)
    if result.accuracy:
        table = Table(title="accuracy against the simulator's truth")
        for col in ("quantity", "error", "unit", ""):
            table.add_column(col, justify="right" if col == "error" else "left")
        for a in result.accuracy:
            table.add_row(a.quantity, f"{a.value:.3g}", a.unit, a.detail)
        console.print(table)
    if result.comparisons:
        table = Table(title="recovered vs true")
        for col in ("quantity", "recovered", "truth", "error", "unit", "trials"):
            table.add_column(col, justify="left" if col == "quantity" else "right")
        for c in result.comparisons:
            table.add_row(c.quantity, f"{c.recovered:.4g}", f"{c.truth:.4g}", f"{c.error:+.3g}",
                          c.unit, str(c.n))  # fmt: skip
        console.print(table)
    code = exit_code(result.pipeline) if result.pipeline is not None else 1
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
