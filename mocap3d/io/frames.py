"""Per-video frame metadata: ``<camera>.frames.csv`` beside ``<camera>.mp4``.

Hardware-triggered cameras report, for every frame they deliver, their own frame counter and
timestamp. The recorder writes them next to the video, one row per frame *in the video*::

    frame,counter,timestamp_s
    0,1000,12.000000
    1,1001,12.002000
    2,1003,12.006000        <- counter jumped: the camera dropped frame 1002

``frame`` is the index in the video file, ``counter`` the camera's frame counter (gaps mean
dropped frames), ``timestamp_s`` the camera clock in seconds (NaN if the camera has none).
Synchronisation checks the video against these and against the DAQ's exposure pulses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap3d.errors import InputError
from mocap3d.io.atomic import write_text_atomic

HEADER = "frame,counter,timestamp_s"


@dataclass(frozen=True)
class FrameLog:
    """Frame counters and camera timestamps of one video, one entry per frame in the video."""

    counter: np.ndarray  # (n_frames,) int64
    timestamp_s: np.ndarray  # (n_frames,) float64, NaN when unknown

    def __post_init__(self) -> None:
        if self.counter.shape != self.timestamp_s.shape or self.counter.ndim != 1:
            raise InputError(
                f"frame log: counter {self.counter.shape} and timestamp_s "
                f"{self.timestamp_s.shape} must be 1-D of equal length"
            )

    def __len__(self) -> int:
        return len(self.counter)


def frames_path(video: str | Path) -> Path:
    """The frame log that belongs to ``video`` (``cam.mp4`` → ``cam.frames.csv``)."""
    video = Path(video)
    return video.with_name(video.stem + ".frames.csv")


def write_frame_log(path: str | Path, log: FrameLog) -> None:
    """Write a frame log atomically."""
    rows = [HEADER] + [
        f"{i},{int(c)},{t:.9f}"
        for i, (c, t) in enumerate(zip(log.counter, log.timestamp_s, strict=True))
    ]
    write_text_atomic(path, "\n".join(rows) + "\n")


def read_frame_log(path: str | Path) -> FrameLog:
    """Read a frame log; rows must be in frame order 0, 1, 2 …"""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"frame log {path} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].strip() != HEADER:
        raise InputError(f"{path}: first line must be {HEADER!r}, found {lines[:1]}")
    try:
        table = np.array([line.split(",") for line in lines[1:] if line.strip()], dtype=float)
    except ValueError as exc:
        raise InputError(f"{path}: every row must be three numbers ({exc})") from None
    table = table.reshape(-1, 3)
    frames = table[:, 0]
    if not np.array_equal(frames, np.arange(len(frames))):
        raise InputError(f"{path}: column 'frame' must count 0, 1, 2 … in order")
    return FrameLog(table[:, 1].astype(np.int64), table[:, 2])
