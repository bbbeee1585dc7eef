"""``mocap3d board print SPEC.toml --out DIR``."""

from __future__ import annotations

from pathlib import Path

import typer

from mocap3d.cli._console import out_console

board_app = typer.Typer(
    help="Calibration boards: print a board at exact scale.", no_args_is_help=True
)


@board_app.command("print")
def print_cmd(
    spec: Path = typer.Argument(..., help="Board spec TOML, e.g. calibration/boards/*.toml"),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the PDF and PNG."),
    dpi: int = typer.Option(600, "--dpi", help="Resolution of the PNG."),
    margin: float = typer.Option(10.0, "--margin", help="White margin around the board, mm."),
) -> None:
    """Write the board as PDF (vector) and PNG at exact physical scale, with a scale bar."""
    from mocap3d.calibration.board import load_board_spec
    from mocap3d.calibration.printing import print_board

    board = load_board_spec(spec)
    result = print_board(board, out, dpi=dpi, margin_mm=margin)
    console = out_console()
    w, h = result.page_mm
    paper = f"fits on {result.fits_on}" if result.fits_on else "larger than A3"
    console.print(
        f"page {w:.1f} × {h:.1f} mm ({paper}); print at 100 %, no fit-to-page", markup=False
    )
    console.print(f"PDF: {result.pdf}", markup=False)
    px = result.png_size_px
    console.print(f"PNG: {result.png} ({px[0]} × {px[1]} px at {result.dpi} dpi)", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(board_app, name="board")
