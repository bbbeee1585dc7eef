"""Board specs: validation and agreement with OpenCV's board geometry."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.calibration.board import load_board_spec
from mocap3d.errors import InputError, ProblemsError


def test_builtin_boards_load_and_match_opencv(repo):
    for path in sorted((repo / "calibration" / "boards").glob("*.toml")):
        spec = load_board_spec(path)
        board = spec.to_cv2()
        np.testing.assert_allclose(spec.corner_points_mm(), board.getChessboardCorners())
        assert spec.n_corners == len(board.getChessboardCorners())
        assert spec.n_markers == len(board.getIds())


def test_caliscope_board_is_inverted_54mm(repo):
    spec = load_board_spec(repo / "calibration/boards/caliscope-4x5-54mm.toml")
    assert spec.inverted and spec.square_length_mm == 54.0 and spec.n_corners == 12


@pytest.mark.parametrize(
    "body,match",
    [
        (
            "squares_x = 7\nsquares_y = 5\nsquare_length_mm = 10\nmarker_length_mm = 12",
            "marker_length_mm .* must be smaller",
        ),
        (
            "squares_x = 7\nsquares_y = 5\nsquare_length_mm = 10\nmarker_length_mm = 7\n"
            "dictionary = 'DICT_9X9_1'",
            "not an OpenCV ArUco dictionary",
        ),
        (
            "squares_x = 20\nsquares_y = 20\nsquare_length_mm = 10\nmarker_length_mm = 7\n"
            "dictionary = 'DICT_4X4_50'",
            "needs 200 markers",
        ),
        ("squares_x = 7\nsquare_length_mm = 10\nmarker_length_mm = 7", r"board\.squares_y"),
    ],
)
def test_bad_specs_are_explained(tmp_path, body, match):
    p = tmp_path / "b.toml"
    p.write_text("[board]\n" + body)
    with pytest.raises(ProblemsError, match=match):
        load_board_spec(p)


def test_spec_without_board_table(tmp_path):
    p = tmp_path / "b.toml"
    p.write_text("squares_x = 3\n")
    with pytest.raises(InputError, match=r"no \[board\] table"):
        load_board_spec(p)
