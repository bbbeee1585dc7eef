"""Triggered cameras: one frame per trigger, frame logs beside the videos, dropped frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mocap3d.acquisition.cameras import (
    CameraRecording,
    SimCamera,
    VideoFileCamera,
    code_image,
    make_camera,
    read_code,
)
from mocap3d.acquisition.daq import AcquisitionError
from mocap3d.io.frames import frames_path, read_frame_log


class Triggers:
    """A trigger counter the test advances by hand."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> int:
        return self.n


def decode_video(path) -> list[int]:
    cap = cv2.VideoCapture(str(path))
    codes = []
    while True:
        ok, img = cap.read()
        if not ok:
            return codes
        codes.append(read_code(img))


def test_sim_camera_writes_one_frame_per_trigger_with_its_log(tmp_path):
    triggers = Triggers()
    cam = SimCamera(
        "front", trigger_count=triggers, size=(160, 96), drop={5, 6}, counter_offset=100
    )
    rec = CameraRecording(cam, tmp_path / "trial_001" / "front.mp4", fps=200.0)
    rec.start()
    assert cam.armed
    triggers.n = 30
    result = rec.stop()  # waits for the frames of the triggers already emitted
    assert (result.name, result.n_frames, result.dropped, result.error) == ("front", 28, 2, "")
    log = read_frame_log(frames_path(result.video))
    expected = [k for k in range(30) if k not in (5, 6)]
    assert list(log.counter) == [100 + k for k in expected]
    np.testing.assert_allclose(log.timestamp_s, np.array(expected) / 200.0)
    assert decode_video(result.video) == expected  # the video holds exactly those frames
    assert not cam.armed


def test_video_file_camera_replays_footage_per_trigger(tmp_path):
    src = tmp_path / "in.mp4"
    w = cv2.VideoWriter(str(src), cv2.VideoWriter.fourcc(*"mp4v"), 100.0, (160, 96), False)
    for k in range(12):
        w.write(code_image(k, (160, 96)))
    w.release()
    triggers = Triggers()
    cam = make_camera("video", "side_left", video=src, trigger_count=triggers)
    assert isinstance(cam, VideoFileCamera)
    rec = CameraRecording(cam, tmp_path / "out" / "side_left.mp4", fps=100.0)
    rec.start()
    triggers.n = 8  # only 8 triggers: 8 of the 12 frames
    result = rec.stop()
    assert result.n_frames == 8 and result.dropped == 0
    log = read_frame_log(frames_path(result.video))
    assert list(log.counter) == list(range(8))
    np.testing.assert_allclose(log.timestamp_s, np.arange(8) / 100.0, atol=1e-6)
    assert decode_video(result.video) == list(range(8))


def test_camera_backends_and_errors(tmp_path):
    cam = make_camera("sim", "x", trigger_count=lambda: 0)
    assert isinstance(cam, SimCamera)
    plugin = make_camera("mocap3d.acquisition.cameras:SimCamera", "y", trigger_count=lambda: 0)
    assert isinstance(plugin, SimCamera) and plugin.name == "y"
    with pytest.raises(AcquisitionError, match=r"unknown camera backend 'pylon'.*'sim', 'video'"):
        make_camera("pylon", "x")
    with pytest.raises(AcquisitionError, match="cannot be loaded"):
        make_camera("no_such_module:Camera", "x")
    with pytest.raises(AcquisitionError, match="does not exist"):
        VideoFileCamera("x", tmp_path / "missing.mp4")
    (tmp_path / "taken.mp4").write_bytes(b"")
    with pytest.raises(AcquisitionError, match="never overwritten"):
        CameraRecording(SimCamera("x", trigger_count=lambda: 0), tmp_path / "taken.mp4", 100.0)
