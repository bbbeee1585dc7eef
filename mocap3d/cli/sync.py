"""``mocap3d sync``: every video frame on the DAQ master clock; drops and clocks reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from mocap3d.cli._console import err_console, out_console, progress_bar
from mocap3d.cli._usage import refuse_unused
from mocap3d.errors import InputError


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise InputError(f"{option} takes NAME=VALUE, found {item!r}")
        if name in out:
            raise InputError(f"{option}: {name!r} is given twice")
        out[name] = value
    return out


def _number(text: str, what: str, kind: type = float) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise InputError(f"{what}: expected a number, found {text!r}") from None


def _read_onsets(path: Path, device: str) -> Any:
    import numpy as np

    if not path.is_file():
        raise InputError(f"--device {device}: file {path} does not exist")
    rows = [r.strip().split(",") for r in path.read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if r and r[0]]
    try:
        float(rows[0][0]) if rows else None
    except ValueError:
        rows = rows[1:]  # header
    try:
        table = np.array([[float(v) for v in r[:2]] for r in rows])
        if table.ndim != 2 or table.shape[0] < 1:
            raise ValueError("no rows")
    except ValueError as exc:
        raise InputError(
            f"--device {device}: {path} must hold one pulse per line: its onset time (s, device "
            f"clock), optionally its offset time after a comma, under an optional header ({exc})"
        ) from None
    return table[:, 0] if table.shape[1] == 1 else table


def sync(
    project: Path | None = typer.Option(None, "--project", "-p", help="Project folder."),
    session: list[str] | None = typer.Option(
        None, "--session", "-s", help="Session(s) to sync (default: all of the project)."
    ),
    daq: Path | None = typer.Option(None, "--daq", help="Raw DAQ file (instead of --project)."),
    rig: Path | None = typer.Option(None, "--rig", help="Rig TOML (with --daq)."),
    video: list[str] | None = typer.Option(
        None, "--video", help="NAME=VIDEO of one camera (with --daq); its .frames.csv is read."
    ),
    frames: list[str] | None = typer.Option(
        None, "--frames", help="NAME=N frame count of a camera instead of its video."
    ),
    frame_log: list[str] | None = typer.Option(
        None, "--frame-log", help="NAME=CSV frame log of a camera given by --frames."
    ),
    trial: str = typer.Option("trial_001", "--trial", help="Trial name (with --daq)."),
    burst: int | None = typer.Option(
        None, "--burst", help="Which burst of pulses is this trial (0 = first; with --daq)."
    ),
    out: Path = typer.Option(
        Path("session.h5"), "--out", "-o", help="Session file to write (with --daq)."
    ),
    device: list[str] | None = typer.Option(
        None, "--device", help="NAME=CSV barcode onset[,offset] times of a device's clock (s)."
    ),
    anchor: str = typer.Option(
        "auto", "--anchor", help="auto | start | end: where a video sits in surplus pulses."
    ),
    trial_gap: float | None = typer.Option(
        None, "--trial-gap", help="Pause (s) that separates trials' bursts of pulses."
    ),
    threshold: list[str] | None = typer.Option(
        None, "--threshold", help="CHANNEL=LOW,HIGH hysteresis thresholds (default: auto)."
    ),
    max_unmatched: int | None = typer.Option(
        None, "--max-unmatched", help="Pulses allowed without frames (default max(5, 1 %))."
    ),
    edge: str = typer.Option("rising", "--edge", help="rising | falling: exposure start edge."),
    exact_count: bool = typer.Option(
        False, "--exact-count", help="Count video frames by decoding (slow, always exact)."
    ),
) -> None:
    """Map every video frame onto the DAQ clock; find dropped frames; fit device clocks.

    Writes each trial's frame-time map into the session file (trials/<trial>/frame_times)
    and a report (sync_report.json, sync_report.png).
    """
    from mocap3d.io.frames import read_frame_log
    from mocap3d.io.project import open_project
    from mocap3d.rig import load_rig
    from mocap3d.sync.session import (
        SyncOptions,
        VideoInput,
        sync_project_session,
        sync_recording,
        video_input,
    )
    from mocap3d.sync.store import write_session_sync

    if anchor not in ("auto", "start", "end"):
        raise InputError(f"--anchor must be auto, start or end, found {anchor!r}")
    if edge not in ("rising", "falling"):
        raise InputError(f"--edge must be rising or falling, found {edge!r}")
    levels = {}
    for ch, text in _pairs(threshold, "--threshold").items():
        parts = text.split(",")
        if len(parts) != 2:
            raise InputError(f"--threshold {ch}: give LOW,HIGH, found {text!r}")
        levels[ch] = (_number(parts[0], "--threshold"), _number(parts[1], "--threshold"))
    options = SyncOptions(
        anchor=anchor,  # type: ignore[arg-type]
        trial_gap_s=trial_gap,
        max_unmatched=max_unmatched,
        thresholds=levels,
        edge=edge,  # type: ignore[arg-type]
    )
    devices = {n: _read_onsets(Path(p), n) for n, p in _pairs(device, "--device").items()}
    results = []
    with progress_bar() as progress:
        if project is not None:
            if daq is not None or video or frames:
                raise InputError("give either --project or --daq with --video/--frames, not both")
            refuse_unused(
                "--project (its rig, trials and session files are used)",
                {"--rig": rig is not None, "--frame-log": bool(frame_log),
                 "--trial": trial != "trial_001", "--burst": burst is not None,
                 "--out": out != Path("session.h5")},
            )  # fmt: skip
            proj = open_project(project)
            sessions = [proj.session(s) for s in session] if session else proj.sessions()
            if not sessions:
                raise InputError(f"project {proj.name!r} has no sessions in {proj.sessions_dir}")
            for s in sessions:
                res = sync_project_session(
                    proj, s, devices=devices, options=options, exact_count=exact_count,
                    progress=progress,
                )  # fmt: skip
                paths = write_session_sync(res, s.derived_path, s.outputs_dir / "sync")
                results.append((s.name, res, paths))
        else:
            if daq is None or rig is None:
                raise InputError(
                    "give --project DIR, or --daq RAW.h5 --rig RIG.toml with --video NAME=PATH"
                )
            refuse_unused("--daq", {"--session": bool(session)})
            r = load_rig(rig)
            inputs: dict[str, VideoInput] = {}
            for cam, p in _pairs(video, "--video").items():
                inputs[cam] = video_input(Path(p), exact=exact_count)
            logs = _pairs(frame_log, "--frame-log")
            for cam, n in _pairs(frames, "--frames").items():
                if cam in inputs:
                    raise InputError(f"camera {cam!r} is given by both --video and --frames")
                fl = read_frame_log(logs[cam]) if cam in logs else None
                inputs[cam] = VideoInput(_number(n, f"--frames {cam}", int), fl)
            if not inputs:
                raise InputError("name at least one camera: --video NAME=PATH or --frames NAME=N")
            res = sync_recording(
                r, daq, {trial: inputs}, devices=devices,
                bursts={trial: burst} if burst is not None else None, options=options,
                progress=progress,
            )  # fmt: skip
            paths = write_session_sync(res, out, out.parent)
            results.append((trial, res, paths))
    console = out_console()
    for label, res, paths in results:
        table = Table(title=f"sync — {label}")
        for col in ("trial", "camera", "frames", "pulses", "dropped", "missing", "extra",
                    "how", "first frame (s)"):  # fmt: skip
            table.add_column(col, justify="left" if col in ("trial", "camera", "how") else "right")
        for t, cams in res.maps.items():
            for c, fm in cams.items():
                info = fm.summary()
                drops = info["dropped_after_frame"][:4]
                more = "…" if info["n_dropped"] > 4 else ""
                table.add_row(
                    t, c, str(fm.n_frames), str(info["n_pulses"]),
                    f"{info['n_dropped']}" + (f" (after {drops}{more})" if drops else ""),
                    str(info["n_missing_pulses"]), str(info["n_extra_pulses"]),
                    f"{fm.method}/{fm.anchor}", f"{fm.frame_time[0]:.6f}",
                )  # fmt: skip
        console.print(table)
        for name, fit in res.clocks.items():
            console.print(
                f"clock {name}: drift {fit.drift_ppm:+.3f} ± {fit.drift_se_ppm:.3f} ppm, "
                f"offset {fit.offset_s:.6f} s, "
                f"residuals RMS {fit.rms_us:.1f} µs (max {fit.max_abs_us:.1f}), "
                f"{fit.n_pairs} pulses",
                markup=False,
            )
        for w in res.report()["warnings"]:
            err_console().print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
        console.print(
            f"wrote {paths['session']}, {paths['report_json']}, {paths['report_png']}",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
