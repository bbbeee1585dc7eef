"""Write a project's outputs: exports (CSV, NWB), figures, overlay videos and HTML reports.

::

    PROJECT/outputs/report.html              project: groups, sessions, calibration
    PROJECT/outputs/metrics.csv              every trial of every session
    PROJECT/outputs/figures/                 camera layout, metrics by group …
    sessions/<s>/outputs/report.html         session: trials, metrics, downloads
    sessions/<s>/outputs/<s>.nwb             NWB of the session (all trials)
    sessions/<s>/outputs/metrics.csv
    sessions/<s>/outputs/trials/<t>/report.html, <t>.csv, [<t>.nwb], figures/, videos/

Each step uses what the project holds (see :mod:`mocap3d.report.content`) and says in the
report what is missing and which command makes it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd
import xarray as xr

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.io.nwb import write_nwb
from mocap3d.io.project import Project, Session
from mocap3d.io.tables import write_csv, write_trial_csv
from mocap3d.progress import Progress, report
from mocap3d.report import content
from mocap3d.report.figures.common import FORMATS, ImageFormat, save_figure
from mocap3d.report.overlay import OverlayOptions, render_overlays
from mocap3d.report.skeleton_view import render_skeleton_view
from mocap3d.report.video import video_suffix
from mocap3d.results import SessionInfo, TrialResults, physical
from mocap3d.rig import Rig

if TYPE_CHECKING:
    from mocap3d.report.pages import ProjectExtras

log = logging.getLogger(__name__)

NwbMode = Literal["session", "trial", "both", "none"]


@dataclass(frozen=True)
class ReportOptions:
    """What to write.

    Attributes
    ----------
    nwb : {"session", "trial", "both", "none"}
        One NWB file per session (default), per trial, both, or none.
    csv, figures, videos : bool
        Per-trial CSV tables; figures; overlay and 3D videos (the slowest part).
    overlay : OverlayOptions
        Codec, playback rate, magnification of the videos.
    formats : tuple of {"png", "svg", "pdf"}
        Figure formats (the report shows the PNG and links the SVG).
    embed_images : bool
        Put the PNGs into the HTML pages (single-file pages) instead of linking them.
    pages : bool
        Write the HTML pages (False: exports, figures and videos only).
    """

    nwb: NwbMode = "session"
    csv: bool = True
    figures: bool = True
    videos: bool = True
    overlay: OverlayOptions = field(default_factory=OverlayOptions)
    formats: tuple[ImageFormat, ...] = FORMATS
    embed_images: bool = False
    pages: bool = True


EXPORTS_ONLY = ReportOptions(figures=False, videos=False, pages=False)
"""Options of ``mocap3d export``: CSV tables and NWB, no figures, videos or pages."""


@dataclass
class TrialOutputs:
    """What was written for one trial (paths by kind) and what could not be, and why."""

    trial: TrialResults
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, list[Path]] = field(default_factory=dict)
    videos: dict[str, Path] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    report: Path | None = None


@dataclass
class SessionOutputs:
    session: Session
    trials: list[TrialOutputs]
    metrics: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)
    report: Path | None = None


def trial_folder(session: Session, trial: str) -> Path:
    return session.outputs_dir / "trials" / trial


def exposure_durations(rig: Rig) -> dict[str, float]:
    """Exposure time per camera from the rig (s)."""
    return {c.name: c.exposure_us * 1e-6 for c in rig.cameras if c.exposure_us}


def force_signal(trial: TrialResults) -> xr.DataArray | None:
    """The trial's force channels (DAQ channels of kind ``force``) in physical units, or None."""
    for sig in trial.signals.values():
        if "kind" in sig.coords:
            sel = [
                str(c)
                for c, k in zip(sig["channel"].values, sig["kind"].values, strict=True)
                if k == "force"
            ]
            if sel:
                return physical(sig.sel(channel=sel))
    return None


def write_trial_outputs(
    trial: TrialResults,
    folder: Path,
    *,
    rig: Rig,
    info: SessionInfo,
    cameras: CameraGroup | None,
    options: ReportOptions = ReportOptions(),
    progress: Progress | None = None,
) -> TrialOutputs:
    """Exports, figures and videos of one trial into ``folder`` (no HTML; see pages)."""
    from mocap3d.report.figures import (
        key_times,
        plot_confidence,
        plot_skeleton_frames,
        plot_trial_timeline,
    )

    out = TrialOutputs(trial=trial, folder=folder)
    bones = list(info.bones)
    name = trial.name
    if trial.poses2d is None:
        out.missing.append("2D tracks: run `mocap3d track`, then `mocap3d sync`")
    if trial.poses3d is None:
        out.missing.append("3D poses: run `mocap3d triangulate`")
    if trial.angles is None or not trial.events:
        out.missing.append("joint angles, events, EMG envelopes, metrics: run `mocap3d analyze`")
    if cameras is None:
        out.missing.append("calibration: run `mocap3d calibrate` (no reprojected skeleton)")
    if options.csv and (trial.poses3d is not None or trial.angles is not None):
        out.files["csv"] = write_trial_csv(folder / f"{name}.csv", trial.poses3d, trial.angles)
    if options.nwb in ("trial", "both"):
        out.files["nwb"] = write_nwb(
            folder / f"{name}.nwb",
            [trial],
            session=info,
            cameras=cameras,
            exposure_s=exposure_durations(rig),
        )
    if options.figures:
        figs = folder / "figures"
        force = force_signal(trial)
        if trial.angles is not None or trial.envelopes is not None or force is not None:
            fig = plot_trial_timeline(
                angles=trial.angles,
                envelopes=trial.envelopes,
                force=force,
                events=trial.events,
                title=f"{name}: joint angles, EMG and force",
            )
            out.figures["timeline"] = save_figure(fig, figs / "timeline", formats=options.formats)
        if trial.poses3d is not None:
            times = key_times(trial.events) or {
                "first": float(trial.poses3d["time"].values[0]),
                "last": float(trial.poses3d["time"].values[-1]),
            }
            fig = plot_skeleton_frames(
                trial.poses3d,
                bones,
                times,
                platform_size_mm=rig.arena.platform_size_mm,
                title=f"{name}: 3D skeleton at key frames",
            )
            out.figures["skeleton"] = save_figure(fig, figs / "skeleton", formats=options.formats)
        if trial.poses2d is not None:
            fig = plot_confidence(
                trial.poses2d,
                events=trial.events,
                threshold=options.overlay.min_confidence,
                title=f"{name}: tracking confidence",
            )
            out.figures["confidence"] = save_figure(
                fig, figs / "confidence", formats=options.formats
            )
    if options.videos:
        vids = folder / "videos"
        if trial.videos:
            out.videos.update(
                render_overlays(
                    vids,
                    trial,
                    bones=bones,
                    cameras=cameras,
                    options=options.overlay,
                    progress=progress,
                )
            )
        else:
            out.missing.append("raw videos (no overlays)")
        if trial.poses3d is not None:
            out.videos["skeleton3d"] = render_skeleton_view(
                vids / f"skeleton3d{video_suffix(options.overlay.codec)}",
                trial.poses3d,
                bones,
                events=trial.events,
                platform_size_mm=rig.arena.platform_size_mm,
                playback_fps=options.overlay.playback_fps,
                codec=options.overlay.codec,
                title=name,
                progress=progress,
            )
    return out


def build_session(
    project: Project,
    session: Session,
    *,
    trials: Sequence[str] | None = None,
    options: ReportOptions = ReportOptions(),
    rig: Rig | None = None,
    cameras: CameraGroup | None = None,
    progress: Progress | None = None,
) -> SessionOutputs:
    """Every output of a session's trials, the session NWB and metrics, and the HTML pages."""
    from mocap3d.report.pages import session_page, trial_page

    rig = rig or project.rig()
    cameras = cameras if cameras is not None else content.load_calibration(project)
    info = content.session_info(project, session, rig)
    metrics = content.session_metrics(project, session)
    have = session.trials()
    names = list(trials) if trials is not None else have
    unknown = [t for t in names if t not in have]
    if unknown:
        raise InputError(f"session {session.name!r} has no trial(s) {unknown}; it has {have}")
    if options.nwb == "session" and set(names) != set(have):
        # a session file of some trials would pass for the whole session: write trial files
        log.info(
            "%s: %d of %d trials chosen, writing per-trial NWB files",
            session.name,
            len(names),
            len(have),
        )
        options = dataclasses.replace(options, nwb="trial")
    outputs: list[TrialOutputs] = []
    for i, name in enumerate(names):
        report(progress, i, len(names), f"trials of {session.name}")
        tr = content.load_trial(project, session, name, rig=rig, metrics=metrics)
        out = write_trial_outputs(
            tr,
            trial_folder(session, name),
            rig=rig,
            info=info,
            cameras=cameras,
            options=options,
            progress=progress,
        )
        outputs.append(out)
    report(progress, len(names), len(names), f"trials of {session.name}")
    result = SessionOutputs(session=session, trials=outputs, metrics=metrics)
    if options.nwb in ("session", "both") and outputs:
        result.files["nwb"] = write_nwb(
            session.outputs_dir / f"{session.name}.nwb",
            [o.trial for o in outputs],
            session=info,
            cameras=cameras,
            exposure_s=exposure_durations(rig),
        )
    if not metrics.empty:
        result.files["metrics"] = write_csv(session.outputs_dir / "metrics.csv", metrics)
    if options.pages:
        for o in outputs:
            o.report = trial_page(
                o, session=session, info=info, options=options, session_files=result.files
            )
        result.report = session_page(result, info=info, options=options)
    return result


def build_project(
    project: Project,
    *,
    sessions: Sequence[str] | None = None,
    trials: Sequence[str] | None = None,
    options: ReportOptions = ReportOptions(),
    extras: ProjectExtras | None = None,
    progress: Progress | None = None,
) -> tuple[Path | None, list[SessionOutputs]]:
    """Outputs of every session (or those named) and the project report (its path, or None
    without pages).

    ``extras`` adds calibration-quality and tracking-evaluation figures to the project page.
    """
    from mocap3d.report.pages import ProjectExtras, project_page

    rig = project.rig()
    cameras = content.load_calibration(project)
    chosen = [project.session(s) for s in sessions] if sessions else project.sessions()
    results = [
        build_session(
            project,
            s,
            trials=trials,
            options=options,
            rig=rig,
            cameras=cameras,
            progress=progress,
        )
        for s in chosen
    ]
    if not options.pages:
        return None, results
    page = project_page(
        project,
        results,
        rig=rig,
        cameras=cameras,
        options=options,
        extras=extras or ProjectExtras(),
    )
    return page, results
