"""A printable board: PDF (vector) and PNG at exact physical scale.

The page is the board plus a white margin, and a strip below it with a scale bar and the
board's spec, so that a printed board can be checked with a ruler (printers love to "fit to
page"). The PDF's page size *is* the board's size: print it at 100 %. The PNG carries its
resolution (DPI) so that image programs print it at the right size too.

Squares and marker cells are drawn as rectangles whose colours are read off OpenCV's own
board image (:meth:`cv2.aruco.CharucoBoard.generateImage`), so the printed board is exactly
the one the detector looks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap3d.calibration.board import BoardSpec, board_image
from mocap3d.errors import InputError
from mocap3d.io.atomic import atomic_path

_STRIP_MM = 24.0  # scale bar and text below the board
_PAPER = {"A4": (210.0, 297.0), "Letter": (215.9, 279.4), "A3": (297.0, 420.0)}


@dataclass(frozen=True)
class PrintedBoard:
    """What :func:`print_board` wrote."""

    pdf: Path
    png: Path
    page_mm: tuple[float, float]
    dpi: int
    fits_on: str  # smallest common paper that holds the page, or "" if none

    @property
    def png_size_px(self) -> tuple[int, int]:
        w, h = self.page_mm
        return (round(w / 25.4 * self.dpi), round(h / 25.4 * self.dpi))


def board_cells(spec: BoardSpec) -> list[tuple[float, float, float, float, bool]]:
    """Every square and marker cell as ``(x, y, width, height, black)`` in board mm.

    Colours come from OpenCV's board image (inverted for inverted boards).
    """
    bits = spec.to_cv2().getDictionary().markerSize
    cell_mm = spec.marker_length_mm / (bits + 2)
    img, ppmm = board_image(spec, px_per_mm=max(12.0 / cell_mm, 20.0 / spec.square_length_mm))

    def black(x_mm: float, y_mm: float) -> bool:
        col = min(max(int(x_mm * ppmm), 0), img.shape[1] - 1)
        row = min(max(int(y_mm * ppmm), 0), img.shape[0] - 1)
        return bool(img[row, col] < 128)

    s = spec.square_length_mm
    gap = (s - spec.marker_length_mm) / 4  # inside the square, outside its marker
    cells = [
        (i * s, j * s, s, s, black(i * s + gap, j * s + gap))
        for j in range(spec.squares_y)
        for i in range(spec.squares_x)
    ]
    for corners in spec.to_cv2().getObjPoints():
        x0, y0 = np.asarray(corners)[:, :2].min(axis=0)
        for r in range(bits + 2):
            for c in range(bits + 2):
                x, y = x0 + c * cell_mm, y0 + r * cell_mm
                cells.append((x, y, cell_mm, cell_mm, black(x + cell_mm / 2, y + cell_mm / 2)))
    return cells


def _scale_bar_mm(width_mm: float) -> float:
    for length in (200.0, 100.0, 50.0, 20.0, 10.0):
        if length <= 0.8 * width_mm:
            return length
    return 5.0


def print_board(
    spec: BoardSpec,
    out_dir: str | Path,
    *,
    dpi: int = 600,
    margin_mm: float = 10.0,
    stem: str | None = None,
) -> PrintedBoard:
    """Write ``<stem>.pdf`` and ``<stem>.png`` of the board into ``out_dir``.

    Parameters
    ----------
    spec : BoardSpec
    out_dir : path
    dpi : int
        Resolution of the PNG.
    margin_mm : float
        White margin around the board (≥ 5 mm; detectors need a quiet zone).
    stem : str, optional
        File name without suffix (default: the spec's name).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    if margin_mm < 5:
        raise InputError(f"margin_mm must be ≥ 5 mm (a white quiet zone), found {margin_mm}")
    if not 72 <= dpi <= 2400:
        raise InputError(f"dpi must be between 72 and 2400, found {dpi}")
    w_mm, h_mm = spec.size_mm
    # whole pixels: the page grows (right and bottom) to a multiple of the PNG's pixel size
    px = [
        int(np.ceil(v / 25.4 * dpi - 1e-9))
        for v in (w_mm + 2 * margin_mm, h_mm + 2 * margin_mm + _STRIP_MM)
    ]
    page = (px[0] * 25.4 / dpi, px[1] * 25.4 / dpi)
    fig = Figure(figsize=((px[0] + 1e-3) / dpi, (px[1] + 1e-3) / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-margin_mm, -margin_mm + (px[0] + 1e-3) * 25.4 / dpi)
    ax.set_ylim(-margin_mm + (px[1] + 1e-3) * 25.4 / dpi, -margin_mm)
    ax.axis("off")
    for x, y, w, h, black in board_cells(spec):
        ax.add_patch(
            Rectangle(
                (x, y),
                w,
                h,
                facecolor="black" if black else "white",
                edgecolor="none",
                linewidth=0,
                antialiased=False,
            )
        )
    bar = _scale_bar_mm(w_mm)
    y_bar = h_mm + margin_mm * 0.6 + 3
    ax.add_patch(Rectangle((0, y_bar), bar, 1.5, facecolor="black", edgecolor="none"))
    for k in range(int(bar // 10) + 1):
        ax.plot([10 * k, 10 * k], [y_bar - 1.5, y_bar], color="black", lw=0.5)
    ax.text(bar + 2, y_bar + 1.2, f"{bar:g} mm", fontsize=7, va="bottom")
    legacy = ", legacy pattern" if spec.legacy_pattern else ""
    inverted = ", inverted" if spec.inverted else ""
    text = (
        f"{spec.name or 'ChArUco board'}: {spec.squares_x} × {spec.squares_y} squares of "
        f"{spec.square_length_mm:g} mm, markers {spec.marker_length_mm:g} mm, "
        f"{spec.dictionary}{legacy}{inverted}\n"
        "Print at 100 % (no fit-to-page) and check the scale bar and a square with a ruler."
    )
    ax.text(0, y_bar + 5, text, fontsize=6, va="top", family="monospace")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = stem or spec.name or "board"
    pdf, png = out / f"{stem}.pdf", out / f"{stem}.png"
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", dpi=dpi)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    fits = next(
        (
            n
            for n, (pw, ph) in _PAPER.items()
            if (page[0] <= pw and page[1] <= ph) or (page[0] <= ph and page[1] <= pw)
        ),
        "",
    )
    return PrintedBoard(pdf, png, page, dpi, fits)
