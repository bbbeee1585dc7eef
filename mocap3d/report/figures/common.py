"""Shared pieces of the figures: a figure without pyplot, saving as PNG and SVG, colours, phases.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, no global state,
no display needed); matplotlib is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from mocap3d.errors import InputError
from mocap3d.io.atomic import atomic_path

ImageFormat = Literal["png", "svg", "pdf"]
FORMATS: tuple[ImageFormat, ...] = ("png", "svg")
DPI = 120

# Jump phases as (label, start event, end event); a phase is shaded when both events are known.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("crouch", "onset", "pushoff_start"),
    ("push-off", "pushoff_start", "takeoff"),
    ("flight", "takeoff", "landing"),
    ("landing", "landing", "landing_end"),
    ("recovery", "landing_end", "recovery_end"),
)
PHASE_COLOURS = {
    "crouch": "#c6dbef",
    "push-off": "#fdd0a2",
    "flight": "#d9f0d3",
    "landing": "#fcbba1",
    "recovery": "#e5e5e5",
}


def new_figure(width_in: float, height_in: float) -> Any:
    """A matplotlib Figure with an Agg canvas, not registered with pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def palette(n: int, name: str = "tab10") -> list[tuple[float, float, float, float]]:
    """``n`` distinct colours from a matplotlib colormap."""
    from matplotlib import colormaps

    cmap = colormaps[name if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def phases(
    events: Mapping[str, float], spec: Sequence[tuple[str, str, str]] = PHASES
) -> list[tuple[str, float, float]]:
    """The phases (label, start s, end s) whose two events are both in ``events``."""
    out = []
    for label, a, b in spec:
        if a in events and b in events and events[b] > events[a]:
            out.append((label, float(events[a]), float(events[b])))
    return out


def shade_phases(ax: Any, events: Mapping[str, float], *, labels: bool = False) -> None:
    """Shade the jump phases on an axis whose x is time (s)."""
    for label, a, b in phases(events):
        ax.axvspan(a, b, color=PHASE_COLOURS.get(label, "#eeeeee"), alpha=0.6, lw=0, zorder=0)
        if labels:
            ax.text(
                (a + b) / 2,
                1.0,
                label,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=7,
            )


def save_figure(
    fig: Any, stem: str | Path, *, formats: Sequence[ImageFormat] = FORMATS
) -> list[Path]:
    """Write ``fig`` as ``<stem>.png``, ``<stem>.svg`` … (each atomically) and return the paths.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    stem : path-like
        Output path without suffix; its folder is created.
    formats : sequence of {"png", "svg", "pdf"}
    """
    stem = Path(stem)
    unknown = [f for f in formats if f not in ("png", "svg", "pdf")]
    if unknown or not formats:
        raise InputError(f"figure formats must be among png, svg, pdf; found {list(formats)}")
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
        paths.append(path)
    return paths
