"""A board spec that does not match the printed board: say so, and name the fix."""

from __future__ import annotations

import pytest

from mocap3d.calibration.board import BoardSpec
from mocap3d.calibration.detect import detect_cameras
from mocap3d.calibration.diagnose import diagnose_spec
from mocap3d.errors import InputError
from tests.unit.calibration.helpers import board_images, write_images

BASE = {
    "squares_x": 7,
    "squares_y": 5,
    "square_length_mm": 10.0,
    "marker_length_mm": 7.5,
    "dictionary": "DICT_4X4_50",
    "name": "test",
}


def spec(**change) -> BoardSpec:
    return BoardSpec.model_validate({**BASE, **change})


def _fails_with(printed: BoardSpec, said: BoardSpec, tmp_path, match: str) -> None:
    write_images(tmp_path / "cam_a", board_images(printed, n=3))
    with pytest.raises(InputError, match=match) as info:
        detect_cameras({"cam_a": tmp_path / "cam_a"}, said)
    assert "camera 'cam_a'" in str(info.value)


def test_other_dictionary(tmp_path):
    # a 7×5 board uses ids 0–16, the same markers in DICT_5X5_50 and DICT_5X5_100: the smaller
    _fails_with(
        spec(dictionary="DICT_5X5_100"),
        spec(),
        tmp_path,
        r'markers are from DICT_5X5_50, not DICT_4X4_50: set dictionary = "DICT_5X5_50"',
    )


def test_inverted_board_with_a_normal_spec(tmp_path):
    _fails_with(
        spec(inverted=True), spec(), tmp_path, r"white markers on black: set inverted = true"
    )


def test_normal_board_with_an_inverted_spec(tmp_path):
    _fails_with(spec(), spec(inverted=True), tmp_path, r"set inverted = false")


def test_legacy_pattern(tmp_path):
    # the legacy (pre-4.6) layout differs only for an even number of rows
    printed = spec(squares_x=6, squares_y=4, legacy_pattern=True)
    _fails_with(printed, spec(squares_x=6, squares_y=4), tmp_path, r"set legacy_pattern = true")


def test_wrong_board_size(tmp_path):
    _fails_with(
        spec(squares_x=8, squares_y=6),
        spec(squares_x=5, squares_y=4),
        tmp_path,
        r"does not match the spec|squares_x / squares_y",
    )


def test_smaller_board_than_the_spec(tmp_path):
    _fails_with(
        spec(squares_x=6, squares_y=5),
        spec(squares_x=7, squares_y=5),
        tmp_path,
        r"set squares_x = 6, squares_y = 5",
    )


def test_swapped_squares(tmp_path):
    _fails_with(
        spec(squares_x=7, squares_y=5),
        spec(squares_x=5, squares_y=7),
        tmp_path,
        r"squares_x = 7, squares_y = 5|squares_x / squares_y",
    )


def test_bigger_dictionary_of_the_same_family_is_fine():
    """DICT_4X4_1000 starts with DICT_4X4_50's markers: no complaint, corners found."""
    images = board_images(spec(), n=2)
    assert diagnose_spec(images, spec(dictionary="DICT_4X4_1000")) == []
    from mocap3d.calibration.detect import BoardDetector

    assert len(BoardDetector(spec(dictionary="DICT_4X4_1000")).detect(images[0])[0]) == 24


def test_no_markers_at_all(tmp_path):
    import numpy as np

    write_images(tmp_path / "cam_a", [np.full((256, 320), 128, np.uint8)] * 2)
    with pytest.raises(InputError, match="no ArUco markers of any dictionary are visible"):
        detect_cameras({"cam_a": tmp_path / "cam_a"}, spec())
