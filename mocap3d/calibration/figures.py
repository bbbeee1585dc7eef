"""Figures and JSON of a calibration's quality report.

:func:`write_quality_report` writes into one folder:

- ``quality.json`` — :meth:`QualityReport.to_dict` plus the calibration summary;
- ``reprojection.png`` — error per camera (box plot) and per board view (lines);
- ``coverage.png`` — where each camera saw corners, over its image frame;
- ``board_geometry.png`` — histogram of adjacent-corner distances vs the square length.

Every file is written atomically. matplotlib is imported here only, and only its
object-oriented API is used (no pyplot, no global backend change).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mocap3d.calibration.observations import as_array
from mocap3d.calibration.quality import QualityReport
from mocap3d.io.atomic import atomic_path, write_text_atomic


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path


def write_quality_report(
    report: QualityReport,
    out_dir: str | Path,
    *,
    observations: Any,
    summary: dict[str, Any] | None = None,
) -> list[Path]:
    """Write ``quality.json`` and the figures into ``out_dir``; returns the paths written."""
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = {**(summary or {}), **report.to_dict()}
    paths = [out / "quality.json"]
    write_text_atomic(paths[0], json.dumps(doc, indent=2, default=_json_default) + "\n")
    names = list(report.cameras)
    uv = as_array(observations)
    sizes = observations.attrs.get("image_sizes", {})

    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    rms = report.view_rms_px
    data = [row[np.isfinite(row)] for row in rms]
    ax1.boxplot([d if d.size else [np.nan] for d in data], tick_labels=names)
    ax1.set_ylabel("RMS reprojection error per view (px)")
    ax1.set_title("per camera")
    for name, row in zip(names, rms, strict=True):
        ok = np.isfinite(row)
        ax2.plot(report.view_frames[ok], row[ok], ".-", label=name, lw=0.8)
    ax2.set_xlabel("frame")
    ax2.set_ylabel("RMS error (px)")
    ax2.set_title("per board view")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    paths.append(_save(fig, out / "reprojection.png"))

    n = len(names)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = Figure(figsize=(3.6 * cols, 3.0 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for c, name in enumerate(names):
        ax = axes[c // cols][c % cols]
        w, h = sizes.get(name, (1, 1))
        p = uv[c].reshape(-1, 2)
        p = p[np.isfinite(p[:, 0])]
        ax.scatter(p[:, 0], p[:, 1], s=1.5, alpha=0.5)
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_aspect("equal")
        share = report.cameras[name].get("coverage", np.nan)
        ax.set_title(f"{name}: {share:.0%} of the grid", fontsize=9)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.tight_layout()
    paths.append(_save(fig, out / "coverage.png"))

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    g = report.geometry
    if report.spacing_mm.size:
        lo, hi = np.percentile(report.spacing_mm, [1, 99])
        ax.hist(report.spacing_mm, bins=60, range=(lo, hi))
        ax.axvline(g["square_length_mm"], color="k", ls="--", label="square length")
        ax.axvline(g["median_mm"], color="r", label=f"median {g['median_mm']:.3f} mm")
        ax.legend()
    ax.set_xlabel("adjacent corner distance (mm)")
    ax.set_title("board geometry check (triangulated corners)")
    fig.tight_layout()
    paths.append(_save(fig, out / "board_geometry.png"))
    return paths


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
