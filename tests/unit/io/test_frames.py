"""Frame logs: round trip and errors."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.io.frames import FrameLog, frames_path, read_frame_log, write_frame_log


def test_round_trip(tmp_path):
    log = FrameLog(np.array([1000, 1001, 1003]), np.array([12.0, 12.002, np.nan]))
    path = frames_path(tmp_path / "front.mp4")
    assert path.name == "front.frames.csv"
    write_frame_log(path, log)
    back = read_frame_log(path)
    np.testing.assert_array_equal(back.counter, log.counter)
    np.testing.assert_allclose(back.timestamp_s, log.timestamp_s, equal_nan=True)
    assert len(back) == 3


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a,b\n", "first line"),
        ("frame,counter,timestamp_s\n1,2,3\n", "count 0, 1, 2"),
        ("frame,counter,timestamp_s\n0,x,3\n", "three numbers"),
    ],
)
def test_errors(tmp_path, text, match):
    (tmp_path / "f.csv").write_text(text)
    with pytest.raises(InputError, match=match):
        read_frame_log(tmp_path / "f.csv")
