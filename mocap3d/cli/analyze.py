"""``mocap3d analyze``: per-trial jump metrics, group comparison and figures.

Over a project (``mocap3d analyze PROJECT``) or explicit inputs
(``mocap3d analyze --daq raw/daq.h5 --rig rig.toml [--points3d points.h5]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mocap3d.cli._console import out_console, progress_bar
from mocap3d.cli._usage import refuse_unused
from mocap3d.errors import InputError

if TYPE_CHECKING:
    from mocap3d.analysis.project import ProjectAnalysis
    from mocap3d.analysis.trial import AnalysisSettings


def _settings(
    *, band: tuple[float, float], notch: float, envelope: str, envelope_hz: float,
    onset: str, onset_k: float, force_k: float,
) -> AnalysisSettings:  # fmt: skip
    from mocap3d.analysis.emg import EmgSettings, OnsetSettings
    from mocap3d.analysis.force import ForceSettings
    from mocap3d.analysis.trial import AnalysisSettings

    if envelope not in ("linear", "rms"):
        raise InputError(f"--envelope must be linear or rms, found {envelope!r}")
    if onset not in ("threshold", "tkeo"):
        raise InputError(f"--onset must be threshold or tkeo, found {onset!r}")
    return AnalysisSettings(
        emg=EmgSettings(
            band_hz=band,
            notch_hz=notch or None,
            envelope=envelope,  # type: ignore[arg-type]
            envelope_lowpass_hz=envelope_hz,
        ),
        onset=OnsetSettings(method=onset, k=onset_k),  # type: ignore[arg-type]
        force=ForceSettings(k=force_k),
    )


def _labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--label takes KEY=VALUE (e.g. group=control), found {item!r}")
        out[key.strip()] = value.strip()
    return out


def _windows(items: list[str]) -> dict[str, tuple[float, float]] | None:
    if not items:
        return None
    out = {}
    for i, item in enumerate(items):
        name, sep, rest = item.rpartition("=")
        name = name if sep else f"trial_{i + 1:03d}"
        try:
            a, b = (float(x) for x in rest.split(":"))
        except ValueError:
            raise InputError(
                f"--window takes [NAME=]START:END in seconds (e.g. trial_001=12.5:13.5), "
                f"found {item!r}"
            ) from None
        if not b > a:
            raise InputError(f"--window {item!r}: END must be after START")
        out[name] = (a, b)
    return out


def analyze(
    project: Path | None = typer.Argument(None, help="Project folder (omit with --daq)."),
    daq: Path | None = typer.Option(None, "--daq", help="Raw DAQ file (explicit inputs)."),
    rig: Path | None = typer.Option(None, "--rig", help="Rig TOML (explicit inputs)."),
    points3d: Path | None = typer.Option(
        None, "--points3d", help="3D points .h5 (session store group, see --points-group)."
    ),
    points_group: str = typer.Option("poses3d", "--points-group", help="Group in --points3d."),
    window: list[str] = typer.Option(
        [], "--window", help="Trial window [NAME=]START:END, s on the DAQ clock (repeatable)."
    ),
    label: list[str] = typer.Option([], "--label", help="KEY=VALUE label for every row."),
    poses: str = typer.Option(
        "auto", "--poses", help="Project poses: auto, derived, truth (simulated projects), none."
    ),
    pose_noise_mm: float = typer.Option(0.0, "--pose-noise-mm", help="Noise on truth poses."),
    by: str = typer.Option("group", "--by", help="Label column that names the groups."),
    groups: str = typer.Option("", "--groups", help="REFERENCE,OTHER (default: both values)."),
    test: str = typer.Option("welch", "--test", help="welch or mannwhitney."),
    nesting: str = typer.Option("animal", "--nesting", help="animal (means), mixed or none."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level."),
    emg_band: tuple[float, float] = typer.Option((100.0, 3000.0), "--emg-band", help="Hz."),
    notch: float = typer.Option(0.0, "--notch", help="Mains notch, Hz (0: none)."),
    envelope: str = typer.Option("linear", "--envelope", help="linear or rms."),
    envelope_hz: float = typer.Option(20.0, "--envelope-hz", help="Linear envelope low-pass."),
    onset: str = typer.Option("threshold", "--onset", help="threshold or tkeo."),
    onset_k: float = typer.Option(4.0, "--onset-k", help="EMG onset: baseline mean + k SD."),
    force_k: float = typer.Option(5.0, "--force-k", help="Force thresholds: k × noise SD."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Draw figures."),
    store: bool = typer.Option(
        True, "--store/--no-store", help="Write angles and kinetics into the session files."
    ),
) -> None:
    """Jump metrics per trial (force, kinematics, angles, EMG), group comparison, figures."""
    settings = _settings(
        band=emg_band, notch=notch, envelope=envelope, envelope_hz=envelope_hz,
        onset=onset, onset_k=onset_k, force_k=force_k,
    )  # fmt: skip
    if test not in ("welch", "mannwhitney"):
        raise InputError(f"--test must be welch or mannwhitney, found {test!r}")
    if nesting not in ("animal", "mixed", "none"):
        raise InputError(f"--nesting must be animal, mixed or none, found {nesting!r}")
    if poses not in ("auto", "derived", "truth", "none"):
        raise InputError(f"--poses must be auto, derived, truth or none, found {poses!r}")
    compare: dict[str, Any] = {"by": by, "test": test, "nesting": nesting, "alpha": alpha}
    if groups:
        names = [g.strip() for g in groups.split(",") if g.strip()]
        if len(names) != 2:
            raise InputError(f"--groups takes two names REFERENCE,OTHER, found {groups!r}")
        compare["groups"] = names
    with progress_bar() as progress:
        if project is not None:
            if daq is not None or points3d is not None:
                raise InputError("give either a PROJECT folder or --daq/--rig/--points3d, not both")
            refuse_unused(
                "a PROJECT folder (the project's rig, trials and session labels are used)",
                {"--rig": rig is not None, "--window": bool(window), "--label": bool(label),
                 "--points-group": points_group != "poses3d"},
            )  # fmt: skip
            from mocap3d.analysis.project import analyze_project

            result = analyze_project(
                project, settings=settings, poses=poses, pose_noise_mm=pose_noise_mm,  # type: ignore[arg-type]
                out_dir=out, compare=compare, figures=figures, store=store, progress=progress,
            )  # fmt: skip
        else:
            if daq is None or rig is None:
                raise InputError(
                    "give a PROJECT folder, or --daq RAW.h5 and --rig RIG.toml "
                    "(and optionally --points3d POINTS.h5)"
                )
            refuse_unused(
                "--daq (explicit inputs: poses come from --points3d, nothing is stored)",
                {"--poses": poses != "auto", "--pose-noise-mm": pose_noise_mm != 0.0,
                 "--no-store": not store},
            )  # fmt: skip
            from mocap3d.analysis.project import analyze_recording

            result = analyze_recording(
                daq, rig, points3d=points3d, points_group=points_group,
                windows=_windows(window), labels=_labels(label), settings=settings,
                out_dir=out, compare=compare, figures=figures, progress=progress,
            )  # fmt: skip
    _summary(result)


def _summary(result: ProjectAnalysis) -> None:
    import numpy as np

    from mocap3d.analysis.groups import comparison_summary, named_animal

    console = out_console()
    t = result.table
    console.print(f"analysed {len(t)} trial(s) → {result.out_dir}", markup=False, soft_wrap=True)
    shown = [
        ("jump_height_impulse_mm", "jump height v²/2g", "mm"),
        ("jump_height_flight_mm", "jump height g·T²/8", "mm"),
        ("takeoff_velocity_m_s", "takeoff velocity", "m/s"),
        ("peak_force_bw", "peak force", "BW"),
    ]
    by = "group" if "group" in t else None
    for col, name, unit in shown:
        if col not in t:
            continue
        parts = []
        for g, sub in t.groupby(by) if by else [("all", t)]:
            v = sub[col].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            if v.size:
                sd = v.std(ddof=1) if v.size > 1 else 0.0
                parts.append(f"{g or '—'} {v.mean():.3g} ± {sd:.2g} (n={v.size})")
        if parts:
            console.print(f"  {name} [{unit}]: " + "; ".join(parts), markup=False, soft_wrap=True)
    n_noted = int((t["notes"] != "").sum()) if "notes" in t else 0
    if n_noted:
        first = next(n for n in t["notes"] if n)
        console.print(
            f"  {n_noted} trial(s) with notes on how metrics were computed (e.g. {first}): "
            "see the notes column of metrics.csv",
            markup=False,
            soft_wrap=True,
        )
    n_missing = int((t["reasons"] != "").sum()) if "reasons" in t else 0
    if n_missing:
        console.print(
            f"  {n_missing} trial(s) with missing metrics: see reasons.csv",
            markup=False,
            soft_wrap=True,
        )
    c = result.comparisons
    if len(c):
        for line in comparison_summary(c):
            console.print(f"  {line}", markup=False, soft_wrap=True)
        nameless = int((~named_animal(t["subject"])).sum()) if "subject" in t else 0
        if nameless and c["nesting"].iloc[0] != "none":
            console.print(
                f"  {nameless} trial(s) without a subject left out of the comparison: set "
                "`subject` in their session.toml",
                markup=False,
                soft_wrap=True,
            )
    elif result.comparison_note:
        console.print(f"  {result.comparison_note}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
