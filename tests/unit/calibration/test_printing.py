"""Printable boards: exact scale, DPI in the PNG, the detector finds every corner."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.calibration.board import load_board_spec
from mocap3d.calibration.printing import print_board
from mocap3d.errors import InputError


@pytest.mark.parametrize("name", ["charuco-7x5-10mm", "caliscope-4x5-54mm"])
def test_pdf_and_png_at_scale(repo, tmp_path, name):
    import cv2
    from PIL import Image

    spec = load_board_spec(repo / "calibration" / "boards" / f"{name}.toml")
    out = print_board(spec, tmp_path, dpi=200, margin_mm=10)
    assert out.pdf.read_bytes().startswith(b"%PDF")
    with Image.open(out.png) as im:
        assert im.size == out.png_size_px
        np.testing.assert_allclose(im.info["dpi"], (200, 200), atol=0.01)
    # page = board + margins + strip, in whole pixels
    w, _ = out.page_mm
    assert spec.size_mm[0] + 20 <= w < spec.size_mm[0] + 20 + 25.4 / 200 * 1.01
    gray = cv2.imread(str(out.png), cv2.IMREAD_GRAYSCALE)
    if spec.inverted:
        gray = 255 - gray
    corners, ids, _, _ = cv2.aruco.CharucoDetector(spec.to_cv2()).detectBoard(gray)
    assert ids is not None and len(ids) == spec.n_corners
    px_per_mm = 200 / 25.4
    expected = (spec.corner_points_mm()[ids.ravel(), :2] + 10) * px_per_mm - 0.5
    assert np.max(np.abs(corners.reshape(-1, 2) - expected)) < 0.6  # ≤ 0.08 mm


def test_pdf_page_size_is_the_board(repo, tmp_path):
    import re

    spec = load_board_spec(repo / "calibration" / "boards" / "charuco-7x5-10mm.toml")
    out = print_board(spec, tmp_path, dpi=300)
    box = re.search(rb"/MediaBox \[ ?([\d. ]+)\]", out.pdf.read_bytes())
    assert box is not None
    x0, y0, x1, y1 = (float(v) for v in box.group(1).split())
    np.testing.assert_allclose(
        [(x1 - x0) / 72 * 25.4, (y1 - y0) / 72 * 25.4], out.page_mm, atol=0.05
    )
    assert out.fits_on == "A4"


def test_bad_options(repo, tmp_path):
    spec = load_board_spec(repo / "calibration" / "boards" / "charuco-7x5-10mm.toml")
    with pytest.raises(InputError, match="margin_mm must be ≥ 5"):
        print_board(spec, tmp_path, margin_mm=1)
    with pytest.raises(InputError, match="dpi must be between"):
        print_board(spec, tmp_path, dpi=10)
