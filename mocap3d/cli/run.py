"""``mocap3d run PROJECT``: every stage over a project, incremental, serial or on Dask."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mocap3d.cli._console import err_console, out_console, progress_bar
from mocap3d.errors import InputError
from mocap3d.pipeline.result import PipelineResult


def print_summary(result: PipelineResult) -> None:
    """The summary table, failed trials and where the report is (stdout)."""
    console = out_console()
    table = Table(title=f"mocap3d run — {result.executor}, {result.seconds:.0f} s")
    summary = result.summary()
    table.add_column("stage")
    for col in summary.columns:
        table.add_column(str(col), justify="right")
    for stage, row in summary.iterrows():
        cells = [str(int(v)) if v else "·" for v in row.iloc[:-1]] + [f"{row['seconds']:.1f}"]
        table.add_row(str(stage), *cells)
    console.print(table)
    for o in result.outcomes:
        if o.status == "done" and o.message and o.stage == "triangulate":
            console.print(f"[yellow]note[/] {o.session}/{o.trial}: {o.message}", highlight=False)
    failed = result.failed_trials()
    for o in result.failures:
        if not o.trial:
            console.print(f"[red]failed[/] {o.name}: {o.message}", markup=True, highlight=False)
    if failed:
        console.print(f"[red]{len(failed)} trial(s) failed:[/]")
        for session, trial, why in failed:
            console.print(f"  {session}/{trial}: {why}", markup=False, highlight=False)
    if result.analysis_dir is not None and result.analysis_dir.is_dir():
        console.print(f"[bold]analysis:[/] {result.analysis_dir}")
    if result.report_path is not None:
        console.print(f"[bold]report:[/] {result.report_path}")


def exit_code(result: PipelineResult) -> int:
    """0 all done; 2 failures that are all bad input; 1 otherwise."""
    if result.ok:
        return 0
    return 2 if all(o.bad_input for o in result.failures) else 1


def run(
    project: Path = typer.Argument(..., help="Project folder (see `mocap3d rig check`)."),
    scheduler: str = typer.Option(
        "local",
        "--scheduler",
        help="local (Dask workers on this machine, loopback only), serial (this process), "
        "or tcp://HOST:PORT of a running Dask scheduler.",
    ),
    workers: int = typer.Option(
        0,
        "--workers",
        "-j",
        help="Local workers (0: one per core).",
    ),
    slurm: bool = typer.Option(False, "--slurm", help="Workers as SLURM jobs (dask-jobqueue)."),
    slurm_jobs: int = typer.Option(4, "--slurm-jobs", help="SLURM jobs (one worker each)."),
    slurm_cores: int = typer.Option(2, "--slurm-cores", help="Cores per SLURM job."),
    slurm_memory: str = typer.Option("8GB", "--slurm-memory", help="Memory per SLURM job."),
    slurm_walltime: str = typer.Option("02:00:00", "--slurm-walltime", help="Job time limit."),
    slurm_queue: str = typer.Option("", "--slurm-queue", help="SLURM partition."),
    slurm_account: str = typer.Option("", "--slurm-account", help="SLURM account."),
    method: str = typer.Option(
        "spatiotemporal", "--method", help="Triangulation: spatiotemporal, robust or dlt."
    ),
    min_score: float = typer.Option(0.5, "--min-score", help="Lowest 2D confidence used."),
    threads: int = typer.Option(0, "--threads", help="torch threads per tracking task (0: auto)."),
    batch_size: int = typer.Option(8, "--batch-size", help="Frames per network pass."),
    session: list[str] = typer.Option([], "--session", "-s", help="Only this session (repeat)."),
    force: bool = typer.Option(False, "--force", help="Run every step again."),
    analyze: bool = typer.Option(True, "--analyze/--no-analyze", help="Analyse the project."),
    report: bool = typer.Option(True, "--report/--no-report", help="Build the report."),
    videos: bool = typer.Option(True, "--videos/--no-videos", help="Overlay videos in it."),
) -> None:
    """Calibrate → track → sync → triangulate → analyse → report, for every trial.

    Only what is new or changed since the last run is done (content hashes of inputs and settings); an interrupted run resumes. Failed trials are listed and the others complete; the exit code is then non-zero.
    """  # noqa: E501
    from mocap3d.io.project import open_project
    from mocap3d.pipeline import PipelineSettings, SlurmOptions, open_executor, run_pipeline

    if method not in ("spatiotemporal", "robust", "dlt"):
        raise InputError(f"--method must be spatiotemporal, robust or dlt, found {method!r}")
    if min(workers, threads) < 0 or batch_size < 1:
        raise InputError("--workers and --threads must be ≥ 0, --batch-size ≥ 1")
    proj = open_project(project)
    settings = PipelineSettings(
        method=method,  # type: ignore[arg-type]
        min_score=min_score,
        batch_size=batch_size,
        threads=threads or None,
        analyze=analyze,
        report=report,
        report_videos=videos,
        force=force,
        sessions=tuple(session) or None,
    )
    slurm_options = SlurmOptions(
        jobs=slurm_jobs, cores=slurm_cores, memory=slurm_memory, walltime=slurm_walltime,
        queue=slurm_queue or None, account=slurm_account or None,
    )  # fmt: skip
    where = "slurm" if slurm else scheduler
    with open_executor(where, workers=workers or None, slurm=slurm_options) as executor:
        err_console().print(f"running on {executor.description}", highlight=False)
        with progress_bar() as progress:
            result = run_pipeline(proj, settings, executor=executor, progress=progress)
    print_summary(result)
    code = exit_code(result)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
