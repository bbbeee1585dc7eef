"""Running a trained network on images and videos.

:class:`Predictor` wraps DeepLabCut's pose inference runner (``get_pose_inference_runner``)
and feeds it frames decoded by OpenCV; DeepLabCut's runner preprocesses the next batch in a
thread while the network runs, so decoding overlaps inference. The network runs on
channels-last tensors; with it the whole path gives the same keypoints as DeepLabCut's own
``analyze_videos``, 1.43× faster on this 2-core CPU (``tools/bench/tracking.py``; the share
of channels-last in that gain is not measured separately). Results are arrays
``xy (n_frames, n_keypoints, 2)`` px and ``confidence (n_frames, n_keypoints)`` in [0, 1].
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from mocap3d.datasets import make_poses2d
from mocap3d.errors import InputError
from mocap3d.progress import Progress, report
from mocap3d.tracking._engine import dlc_session
from mocap3d.tracking.model import TrainedModel

log = logging.getLogger(__name__)


class Predictor:
    """A trained model ready to run on frames (CPU).

    Parameters
    ----------
    model : TrainedModel
    batch_size : int
        Frames per forward pass.
    threads : int, optional
        torch threads (default ``$OMP_NUM_THREADS`` or the number of cores).
    channels_last : bool
        Run the network with channels-last tensors: the same numbers, faster on CPUs
        (DeepLabCut's default is channels-first).
    """

    def __init__(
        self,
        model: TrainedModel,
        *,
        batch_size: int = 8,
        threads: int | None = None,
        channels_last: bool = True,
    ):
        self.model = model
        self.threads = threads
        with dlc_session(threads=threads):
            import torch
            from deeplabcut.core.config import read_config_as_dict
            from deeplabcut.pose_estimation_pytorch.apis.utils import get_pose_inference_runner

            cfg = read_config_as_dict(model.pose_config)
            self._runner = get_pose_inference_runner(
                cfg, snapshot_path=str(model.snapshot), batch_size=batch_size, device="cpu"
            )
            if channels_last:
                self._runner.model = self._runner.model.to(memory_format=torch.channels_last)

    def predict(
        self, frames: Iterable[np.ndarray], *, total: int = 0, progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run on RGB frames.

        Parameters
        ----------
        frames : iterable of ndarray, each (height, width, 3) uint8 RGB
        total : int
            Number of frames, for progress only.

        Returns
        -------
        xy : ndarray, (n_frames, n_keypoints, 2)
            Pixel coordinates (x right, y down, origin at the top-left pixel's corner as in
            DeepLabCut).
        confidence : ndarray, (n_frames, n_keypoints)
        """
        counted = _counting(
            frames, total, progress, f"track {self.model.train_dir.parents[1].name}"
        )
        with dlc_session(threads=self.threads):
            out = self._runner.inference(counted)
        k = len(self.model.bodyparts)
        if not out:
            return np.zeros((0, k, 2)), np.zeros((0, k))
        poses = np.stack([np.asarray(o["bodyparts"])[0] for o in out]).astype(np.float64)
        return poses[..., :2], poses[..., 2]


def _counting(
    frames: Iterable[np.ndarray], total: int, progress: Progress | None, label: str
) -> Iterator[np.ndarray]:
    step = max(1, total // 100) if total else 100
    i = 0
    for i, frame in enumerate(frames):
        if i % step == 0:
            report(progress, i, total, label)
        yield frame
    report(progress, i + 1 if total == 0 else total, total, label)


def video_info(video: str | Path) -> tuple[int, tuple[int, int], float]:
    """(n_frames, (width, height), fps) of a video, from its header."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise InputError(f"cannot open video {video}; is it a readable video file?")
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
    finally:
        cap.release()
    return n, size, fps


def read_video(video: str | Path) -> Iterator[np.ndarray]:
    """Decode a video frame by frame as RGB uint8 arrays (height, width, 3)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise InputError(f"cannot open video {video}")
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                return
            yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def analyze_video(
    predictor: Predictor,
    video: str | Path,
    *,
    view: str,
    fps: float | None = None,
    progress: Progress | None = None,
) -> xr.Dataset:
    """Track every frame of a video; returns a one-view poses2d dataset.

    Raises
    ------
    InputError
        If the video's resolution is not one the model was trained on.
    """
    video = Path(video)
    n, size, video_fps = video_info(video)
    predictor.model.check_size(size, what=f"video {video}")
    xy, conf = predictor.predict(read_video(video), total=n, progress=progress)
    return poses_from_arrays(
        xy,
        conf,
        view=view,
        keypoints=predictor.model.bodyparts,
        fps=fps or (video_fps if video_fps > 0 else None),
        source_file=str(video),
        model_id=predictor.model.model_id,
    )


def poses_from_arrays(
    xy: np.ndarray,
    confidence: np.ndarray,
    *,
    view: str,
    keypoints: Sequence[str],
    fps: float | None = None,
    **attrs: Any,
) -> xr.Dataset:
    """One view's (n_frames, n_keypoints, 2) positions and confidences as poses2d."""
    pos = np.transpose(xy, (0, 2, 1))[None, ..., None]  # view, time, space, keypoint, individual
    conf = confidence[None, ..., None]
    return make_poses2d(
        pos,
        conf,
        views=[view],
        keypoints=list(keypoints),
        fps=fps or None,
        source_software="DeepLabCut",
        **attrs,
    )
