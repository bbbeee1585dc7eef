"""The HTML report pages of a trial, a session and a project (see :mod:`mocap3d.report.build`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mocap3d.camera import CameraGroup
from mocap3d.io.project import Project, Session
from mocap3d.io.tables import write_csv
from mocap3d.report.figures.common import save_figure
from mocap3d.report.html import Cards, Figure, Links, Page, Section, Table, Text, Video, write_page
from mocap3d.report.video import resolve_codec
from mocap3d.results import SessionInfo
from mocap3d.rig import Rig

if TYPE_CHECKING:
    from mocap3d.report.build import ReportOptions, SessionOutputs, TrialOutputs

TRUTH_NOTE = (
    "Some data shown here are the simulator's ground truth (source {src!r}), written as a "
    "stand-in for the pipeline's results — not measurements."
)
CAPTIONS = {
    "timeline": "Joint angles, EMG envelopes and force on the session clock; phases shaded.",
    "skeleton": "3D skeleton at the key frames of the jump.",
    "confidence": "Tracking confidence of every keypoint per camera.",
}


@dataclass(frozen=True)
class ProjectExtras:
    """Content the project report shows when given: calibration quality and tracking evaluation.

    Attributes
    ----------
    reprojection_errors : mapping of camera to array
        Per-observation reprojection errors of the calibration, px.
    board_points : mapping of camera to (n, 2) array
        Detected board corners, px (coverage).
    tracking_errors : mapping of label to array
        Pixel errors of the tracker against labelled frames (PCK curves).
    keypoint_errors : mapping of keypoint to array
    """

    reprojection_errors: Mapping[str, np.ndarray] = field(default_factory=dict)
    board_points: Mapping[str, np.ndarray] = field(default_factory=dict)
    tracking_errors: Mapping[str, np.ndarray] = field(default_factory=dict)
    keypoint_errors: Mapping[str, np.ndarray] = field(default_factory=dict)


def _figure(paths: list[Path], caption: str) -> Figure:
    png = next(p for p in paths if p.suffix == ".png")
    svg = next((p for p in paths if p.suffix == ".svg"), None)
    return Figure(png, caption, svg)


def _project_report(session: Session) -> Path:
    return session.root.parent.parent / "outputs" / "report.html"


def _sources(o: TrialOutputs) -> list[str]:
    t = o.trial
    out = []
    for label, obj in (("2D tracks", t.poses2d), ("3D poses", t.poses3d), ("angles", t.angles)):
        if obj is not None:
            out.append(f"{label}: {obj.attrs.get('source_software') or 'unknown'}")
    return out


def trial_page(
    o: TrialOutputs,
    *,
    session: Session,
    info: SessionInfo,
    options: ReportOptions,
    session_files: Mapping[str, Path],
) -> Path:
    """Write ``<trial folder>/report.html``."""
    t = o.trial
    page = Page(
        title=f"{session.name} · {t.name}",
        subtitle=f"subject {info.subject or '?'}, group {t.labels.get('group') or '?'}, "
        f"{t.start_s:.3f}–{t.stop_s:.3f} s on the session clock",
        nav=[
            ("project", _project_report(session)),
            (f"session {session.name}", session.outputs_dir / "report.html"),
        ],
    )
    about = Section(
        "Trial", [Text("Data sources — " + "; ".join(_sources(o)))] if _sources(o) else []
    )
    truth = [s for s in _sources(o) if "truth" in s]
    if truth:
        about.blocks.append(Text(TRUTH_NOTE.format(src=truth[0].split(": ", 1)[1]), note=True))
    for m in o.missing:
        about.blocks.append(Text(f"Not available yet — {m}.", note=True))
    notes = str(t.metrics.get("notes", "") or "")
    if notes:
        about.blocks.append(Text(f"How the analysis computed some metrics: {notes}", note=True))
    reasons = str(t.metrics.get("reasons", "") or "")
    if reasons:
        about.blocks.append(Text(f"Metrics the analysis could not compute: {reasons}", note=True))
    page.sections.append(about)
    if t.events:
        events = dict(sorted(t.events.items(), key=lambda kv: kv[1]))
        takeoff = events.get("takeoff")
        ev = pd.DataFrame(
            {
                "time_s": list(events.values()),
                "from_takeoff_ms": [
                    (v - takeoff) * 1e3 if takeoff is not None else np.nan for v in events.values()
                ],
            },
            index=pd.Index(list(events), name="event"),
        )
        shown = {k: v for k, v in t.metrics.items() if k not in ("notes", "reasons")}
        metrics = pd.DataFrame(
            {"value": list(shown.values())}, index=pd.Index(list(shown), name="metric")
        )
        page.sections.append(
            Section("Events and metrics", [Table(ev, "jump events"), Table(metrics, "metrics")])
        )
    if o.figures:
        page.sections.append(
            Section("Figures", [_figure(p, CAPTIONS.get(k, k)) for k, p in o.figures.items()])
        )
    if o.videos:
        playable = resolve_codec(options.overlay.codec) in ("h264", "vp8")
        order = ["grid", "skeleton3d", *[k for k in o.videos if k not in ("grid", "skeleton3d")]]
        blocks: list = [
            Text(
                "Rings: 2D tracks (grey below the confidence threshold); magenta: the 3D "
                "skeleton projected into each camera through the calibration."
            )
        ]
        for k in [k for k in order if k in o.videos]:
            cap = {"grid": "all cameras", "skeleton3d": "3D skeleton"}.get(k, f"camera {k}")
            blocks.append(Video(o.videos[k], cap, playable))
        page.sections.append(Section("Videos", blocks))
    files = (
        [(f"{t.name}.csv", o.files["csv"], "3D positions (mm) and angles (°)")]
        if "csv" in o.files
        else []
    )
    if "nwb" in o.files:
        files.append((o.files["nwb"].name, o.files["nwb"], "NWB of this trial"))
    if "nwb" in session_files:
        files.append((session_files["nwb"].name, session_files["nwb"], "NWB of the session"))
    if session.derived_path.is_file():
        files.append(("session.h5", session.derived_path, "derived datasets (HDF5)"))
    for cam, v in t.videos.items():
        files.append((f"raw video {cam}", v, ""))
    if session.raw_daq_path.is_file():
        files.append(("raw DAQ file", session.raw_daq_path, "all trials"))
    page.sections.append(Section("Files", [Links(files)]))
    return write_page(page, o.folder / "report.html", embed_images=options.embed_images)


def session_page(result: SessionOutputs, *, info: SessionInfo, options: ReportOptions) -> Path:
    """Write the session's ``outputs/report.html``."""
    s = result.session
    page = Page(
        title=f"session {s.name}",
        subtitle=f"subject {info.subject or '?'}, group {info.group or '?'}, "
        f"{len(result.trials)} trial(s)",
        nav=[("project", _project_report(s))],
    )
    pages = {o.trial.name: o.report for o in result.trials if o.report is not None}
    if not result.metrics.empty:
        table = result.metrics.copy()
        table.index.name = "trial"
        page.sections.append(
            Section(
                "Metrics",
                [Table(table, csv=result.files.get("metrics"), links={"trial": pages})],
            )
        )
    else:
        page.sections.append(
            Section("Metrics", [Text("No metrics yet — run `mocap3d analyze`.", note=True)])
        )
    cards = []
    for o in result.trials:
        thumb = o.figures.get("timeline") or o.figures.get("skeleton") or []
        png = next((p for p in thumb if p.suffix == ".png"), None)
        n_missing = f"{len(o.missing)} input(s) missing" if o.missing else "complete"
        if o.report is not None:
            cards.append((o.trial.name, o.report, png, n_missing))
    page.sections.append(Section("Trials", [Cards(cards)]))
    files = [(p.name, p, "") for p in result.files.values()]
    if s.derived_path.is_file():
        files.append(("session.h5", s.derived_path, "derived datasets (HDF5)"))
    page.sections.append(Section("Files", [Links(files)]))
    return write_page(page, s.outputs_dir / "report.html", embed_images=options.embed_images)


def key_metrics(table: pd.DataFrame, *, most: int = 12) -> list[str]:
    """The metrics worth a group panel: the analysis' key metrics and first EMG latency when
    present, else the first ``most`` numeric columns."""
    from mocap3d.analysis.project import KEY_METRICS
    from mocap3d.report.figures.groups import numeric_metrics

    chosen = [m for m in KEY_METRICS if m in table.columns]
    chosen += [c for c in table.columns if str(c).endswith("_latency_takeoff_ms")][:1]
    if chosen:
        return chosen
    skip = ("session", "subject", "group", "trial", "trial_start_s")
    return numeric_metrics(table, exclude=skip)[:most]


def calibration_quality(project: Project) -> list:
    """Blocks from ``mocap3d calibrate``'s quality report (``calibration/calibration-report/``):
    per-camera errors and coverage, the board-geometry check, warnings and its figures."""
    import json

    folder = project.calibration_path.with_name(f"{project.calibration_path.stem}-report")
    path = folder / "quality.json"
    if not path.is_file():
        return []
    doc = json.loads(path.read_text(encoding="utf-8"))
    blocks: list = []
    cams = doc.get("cameras", {})
    if cams:
        cols = ["rms_px", "median_px", "p95_px", "n_views", "n_observations", "coverage"]
        table = pd.DataFrame({c: [v.get(c, np.nan) for v in cams.values()] for c in cols})
        table.index = pd.Index(list(cams), name="camera")
        blocks.append(Table(table, "reprojection error after adjustment, views, coverage"))
    geo = doc.get("board_geometry", {})
    if geo.get("n_pairs"):
        blocks.append(
            Text(
                f"Board geometry check: adjacent corners {geo['median_mm']:.3f} mm apart "
                f"(median; IQR {geo['iqr_mm']:.3f} mm) for {geo['square_length_mm']:g} mm "
                f"squares ({geo['median_error_percent']:+.2f} %), {geo['n_pairs']} pairs."
            )
        )
    blocks += [Text(f"Calibration warning: {w}", note=True) for w in doc.get("warnings", [])]
    blocks += [Figure(p, p.stem.replace("_", " ")) for p in sorted(folder.glob("*.png"))]
    blocks.append(Links([("quality.json", path, "the full quality report")]))
    return blocks


def analysis_section(project: Project) -> Section | None:
    """Links to what ``mocap3d analyze`` wrote, with its group comparisons and figures."""
    folder = project.outputs_dir / "analysis"
    if not folder.is_dir():
        return None
    blocks: list = []
    comparisons = folder / "comparisons.csv"
    if comparisons.is_file() and comparisons.stat().st_size > 1:
        try:
            table = pd.read_csv(comparisons)
        except pd.errors.EmptyDataError:
            table = pd.DataFrame()
        if not table.empty and "metric" in table.columns:
            blocks.append(Table(table.set_index("metric"), "group comparisons", comparisons))
    for png in sorted(folder.glob("figures/*.png")):
        if not png.name.startswith("trial_"):
            blocks.append(Figure(png, png.stem.replace("_", " ")))
    files = [
        (p.name, p, "")
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix in (".csv", ".h5", ".json")
    ]
    blocks.append(Links(files))
    return Section("Analysis (mocap3d analyze)", blocks)


def project_metrics(results: list[SessionOutputs]) -> pd.DataFrame:
    """All sessions' metrics in one table: session, subject, group, trial, then the metrics."""
    parts = []
    for r in results:
        if r.metrics.empty:
            continue
        df = r.metrics.copy()
        labels = {o.trial.name: o.trial.labels for o in r.trials}
        df.insert(0, "group", [labels.get(t, {}).get("group", r.session.group) for t in df.index])
        df.insert(0, "subject", r.session.subject)
        df.insert(0, "session", r.session.name)
        df.index.name = "trial"
        parts.append(df.reset_index())
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def project_page(
    project: Project,
    results: list[SessionOutputs],
    *,
    rig: Rig,
    cameras: CameraGroup | None,
    options: ReportOptions,
    extras: ProjectExtras = ProjectExtras(),
) -> Path:
    """Write ``PROJECT/outputs/report.html`` with its figures and ``metrics.csv``."""
    from mocap3d.report.figures import (
        plot_camera_layout,
        plot_coverage,
        plot_group_metrics,
        plot_reprojection_errors,
        plot_tracking_evaluation,
    )

    out = project.outputs_dir
    figs = out / "figures"
    page = Page(title=f"project {project.name}", subtitle=f"rig {rig.name}: {rig.description}")
    rows = [
        {
            "session": r.session.name,
            "subject": r.session.subject,
            "group": r.session.group,
            "trials": len(r.trials),
        }
        for r in results
    ]
    sessions = pd.DataFrame(rows).set_index("session") if rows else pd.DataFrame()
    links = {r.session.name: r.report for r in results if r.report is not None}
    page.sections.append(Section("Sessions", [Table(sessions, links={"session": links})]))
    table = project_metrics(results)
    blocks: list = []
    if not table.empty:
        csv = write_csv(out / "metrics.csv", table, index=False)
        fig = plot_group_metrics(
            table, group="group", subject="session", metrics=key_metrics(table)
        )
        blocks.append(
            _figure(
                save_figure(fig, figs / "group_metrics", formats=options.formats),
                "Metrics by group: a box per group, a point per trial (colour: session).",
            )
        )
        blocks.append(Links([("metrics.csv", csv, "every trial, one row each")]))
    else:
        blocks.append(Text("No metrics yet — run `mocap3d analyze`.", note=True))
    page.sections.append(Section("Groups", blocks))
    analysis = analysis_section(project)
    if analysis is not None:
        page.sections.append(analysis)
    cal: list = []
    if cameras is not None:
        fig = plot_camera_layout(cameras, platform_size_mm=rig.arena.platform_size_mm)
        cal.append(
            _figure(
                save_figure(fig, figs / "camera_layout", formats=options.formats),
                "Cameras (frusta) and the force platform in the world frame.",
            )
        )
        cal.append(Links([("calibration.toml", project.calibration_path, "Anipose format")]))
        cal += calibration_quality(project)
    else:
        cal.append(Text("No calibration yet — run `mocap3d calibrate`.", note=True))
    if extras.reprojection_errors:
        fig = plot_reprojection_errors(extras.reprojection_errors)
        cal.append(
            _figure(
                save_figure(fig, figs / "reprojection_errors", formats=options.formats),
                "Reprojection errors of the calibration per camera.",
            )
        )
    if extras.board_points and cameras is not None:
        fig = plot_coverage(extras.board_points, cameras)
        cal.append(
            _figure(
                save_figure(fig, figs / "coverage", formats=options.formats),
                "Where each camera saw the board.",
            )
        )
    page.sections.append(Section("Calibration", cal))
    if extras.tracking_errors:
        fig = plot_tracking_evaluation(
            extras.tracking_errors, keypoint_errors=dict(extras.keypoint_errors) or None
        )
        page.sections.append(
            Section(
                "Tracking",
                [
                    _figure(
                        save_figure(fig, figs / "tracking_evaluation", formats=options.formats),
                        "Fraction of keypoints within a pixel threshold.",
                    )
                ],
            )
        )
    return write_page(page, out / "report.html", embed_images=options.embed_images)
