"""``mocap3d record``: record a session (DAQ + camera triggers + sync box), or recover a file.

Exit codes: 0 recorded (duration reached or stopped with Ctrl-C); 2 bad input or hardware not
ready (nothing recorded); 3 the recording stopped on a fault (DAQ overflow or error, disk
full) — everything recorded before the fault is kept and the message says what to do.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.live import Live
from rich.table import Table

from mocap3d.cli._console import err_console, out_console
from mocap3d.errors import InputError

EXIT_FAULT = 3


def record(
    rig: Path | None = typer.Option(None, "--rig", help="Rig TOML (default: the project's rig)."),
    project: Path | None = typer.Option(
        None, "--project", help="Project folder (created from --rig if it does not exist)."
    ),
    session: str | None = typer.Option(None, "--session", help="New session name."),
    sim: bool = typer.Option(False, "--sim", help="Simulated DAQ and sync box, no hardware."),
    duration: float | None = typer.Option(
        None, "--duration", min=0.001, help="Seconds to record (default: until Ctrl-C)."
    ),
    speed: float = typer.Option(
        1.0, "--speed", min=0.0, help="--sim only: × real time (0: as fast as possible)."
    ),
    syncbox: str | None = typer.Option(
        None, "--syncbox", help="Sync box port (default: the rig's; --sim: an emulator)."
    ),
    no_syncbox: bool = typer.Option(False, "--no-syncbox", help="Record without the sync box."),
    sync_fps: float | None = typer.Option(
        None, "--sync-fps", help="Sync box pulse rate (default: the camera fps)."
    ),
    cameras: str = typer.Option(
        "none", "--cameras", help="none | sim | video:DIR (replay DIR/<camera>.mp4)."
    ),
    trial: str = typer.Option("trial_001", "--trial", help="Trial folder for camera videos."),
    block: float = typer.Option(0.1, "--block", help="DAQ block length, s."),
    buffer: float = typer.Option(10.0, "--buffer", help="DAQ buffer, s."),
    grpc: str | None = typer.Option(
        None, "--grpc", help="HOST:PORT of an NI gRPC device server (instead of the driver)."
    ),
    seed: int = typer.Option(0, "--seed", help="--sim only: seed of the simulated session."),
    subject: str = typer.Option(
        "", "--subject", help="Subject (animal) id, written to session.toml."
    ),
    group: str = typer.Option(
        "", "--group", help="Experimental group, written to session.toml (analyze's grouping)."
    ),
    date: str = typer.Option(
        "", "--date", help="Session date YYYY-MM-DD (default: the day the recording starts)."
    ),
    notes: str = typer.Option("", "--notes", help="Free text, written to session.toml."),
    recover_file: Path | None = typer.Option(
        None, "--recover", help="Close out a raw DAQ file whose recording crashed, and exit."
    ),
) -> None:
    """Record a synchronised session into PROJECT/sessions/SESSION/raw/daq.h5.

    The DAQ samples every rig channel on one hardware clock, its counter triggers the
    cameras, the sync box pulses are recorded and its count checked. Ctrl-C stops cleanly
    (data kept); a crash leaves every flushed sample readable (`--recover FILE` closes it).
    """
    if recover_file is not None:
        _recover(recover_file)
        return
    if project is None or session is None:
        raise InputError("record needs --project DIR and --session NAME (or --recover FILE)")
    from mocap3d.acquisition.session import prepare_recording

    setup = prepare_recording(
        rig_path=rig, project_dir=project, session=session, sim=sim, speed=speed,
        syncbox_port=syncbox, no_syncbox=no_syncbox, sync_fps=sync_fps, cameras=cameras,
        trial=trial, block_s=block, buffer_s=buffer, grpc=grpc,
        labels={"subject": subject, "group": group, "date": date, "notes": notes},
        duration_s=duration, seed=seed,
    )  # fmt: skip
    err = err_console()
    stop = threading.Event()
    err.print(
        f"[bold]recording[/] {setup.recorder.path} ({setup.describe}) — "
        + (f"{duration:g} s" if duration else "until Ctrl-C")
        + "; Ctrl-C stops cleanly",
        highlight=False,
    )
    view = _LiveView(setup.recorder)
    setup.recorder.on_status = view.update
    try:
        with _ctrl_c_stops(stop), Live(view.table(None), console=err, refresh_per_second=4) as live:
            view.live = live
            result = setup.recorder.run(duration_s=duration, stop=stop)
    finally:
        setup.close()
    _summary(result, ctrl_c=stop.is_set())
    if not result.ok:
        raise typer.Exit(EXIT_FAULT)


@contextmanager
def _ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C: stop cleanly; second: abort (KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err_console().print("[yellow]stopping… (Ctrl-C again to abort)[/]")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _LiveView:
    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.live: Live | None = None

    def update(self, status: Any) -> None:
        if self.live is not None:
            self.live.update(self.table(status))

    def table(self, s: Any) -> Table:
        t = Table(show_header=False, box=None, padding=(0, 2))
        if s is None:
            t.add_row("starting…", "")
            return t
        t.add_row("recorded", f"{s.elapsed_s:8.1f} s   (wall {s.wall_s:.1f} s)")
        for name, n in s.samples.items():
            t.add_row(f"  {name}", f"{n:,} samples")
        t.add_row("on disk", f"{s.flushed_samples:,} samples (flushed)")
        if s.frames_triggered >= 0:
            t.add_row("frames triggered", f"{s.frames_triggered:,}")
        for ch, n in s.exposures_seen.items():
            t.add_row(f"  exposures ({ch})", f"{n:,}")
        for cam, n in s.camera_frames.items():
            t.add_row(f"  frames ({cam})", f"{n:,}")
        if s.sync_pulses_seen >= 0:
            t.add_row("sync pulses seen", f"{s.sync_pulses_seen:,}")
        style = "red" if s.overflows else "green"
        t.add_row("overflows", f"[{style}]{s.overflows}[/]")
        t.add_row("backlog", f"{s.backlog_s:.2f} s")
        return t


def _summary(result: Any, *, ctrl_c: bool) -> None:
    out = out_console()
    s = result.status
    how = "stopped by Ctrl-C" if ctrl_c and result.stop_reason == "stopped" else result.message
    colour = "green" if result.ok else "red"
    out.print(f"[bold {colour}]{result.stop_reason}[/]: {how}", highlight=False)
    t = Table(title=f"recording {result.path}", show_header=True)
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("file status", result.file_status)
    t.add_row("duration", f"{s.elapsed_s:.3f} s")
    for name, n in s.samples.items():
        t.add_row(f"samples {name}", f"{n:,}")
    if s.frames_triggered >= 0:
        t.add_row("frames triggered", f"{s.frames_triggered:,}")
    for ch, n in s.exposures_seen.items():
        t.add_row(f"exposure pulses ({ch})", f"{n:,}")
    if result.syncbox_count is not None:
        t.add_row("sync box count / seen", f"{result.syncbox_count:,} / {s.sync_pulses_seen:,}")
    for cam in result.cameras:
        t.add_row(f"video {cam.name}", f"{cam.n_frames:,} frames, {cam.dropped} dropped")
    t.add_row("overflows", str(s.overflows))
    t.add_row("manifest", str(result.manifest_path))
    out.print(t)
    for w in result.warnings:
        out.print(f"[yellow]warning:[/] {w}", highlight=False)
    if not result.ok:
        err_console().print(
            f"[bold red]error:[/] the recording stopped early: {result.message}",
            highlight=False,
            soft_wrap=True,
        )


def _recover(path: Path) -> None:
    from mocap3d.acquisition.recovery import recover
    from mocap3d.cli._console import progress_bar

    with progress_bar() as progress:
        r = recover(path, progress=progress)
    out_console().print(
        f"[bold green]recovered[/] {r.path}: {r.duration_s:.3f} s "
        + ", ".join(f"{n}: {k:,} samples" for n, k in r.samples.items())
        + f", {r.events} events; the crashed original is kept as {r.crashed}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("record")(record)
