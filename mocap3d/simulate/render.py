"""Render a simulated trial into every camera: videos, exact 2D truth, labelled frames.

Videos are grey (monochrome high-speed cameras), written by OpenCV's FFmpeg backend with the
MPEG-4 Part 2 codec (``mp4v`` in ``.mp4``), which OpenCV and DeepLabCut read and which encodes
deterministically (same frames → same bytes). Sensor noise is added per frame from a seeded
bank, so the same seed gives byte-identical videos.

Truth: :func:`project_truth` gives every keypoint's exact distorted pixel position
(:meth:`Camera.project`) and whether its marker is seen (:func:`~raster.keypoint_visibility`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap3d.camera import Camera, CameraGroup
from mocap3d.errors import InputError
from mocap3d.progress import Progress, report
from mocap3d.simulate.jump import Jump
from mocap3d.simulate.raster import camera_rays, keypoint_visibility, render_mouse
from mocap3d.simulate.scene import mouse_primitives
from mocap3d.simulate.skeleton import KEYPOINTS

FOURCC = "mp4v"
VIDEO_SUFFIX = ".mp4"


@dataclass(frozen=True)
class RenderOptions:
    """Knobs of the renderer.

    Attributes
    ----------
    supersample : int
        Sub-pixels per pixel side (anti-aliasing); 1–4.
    noise_dn : float
        Sensor noise, grey levels (0–255) rms.
    motion_blur : int
        Renders averaged over the exposure (1 = a sharp instant at mid-exposure).
    workers : int
        Processes rendering cameras in parallel (1 = in this process).
    """

    supersample: int = 2
    noise_dn: float = 2.0
    motion_blur: int = 1
    workers: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.supersample <= 4:
            raise InputError(f"supersample must be 1–4, found {self.supersample}")
        if self.motion_blur < 1:
            raise InputError(f"motion_blur must be ≥ 1 (sub-exposures), found {self.motion_blur}")
        if self.workers < 1:
            raise InputError(f"workers must be ≥ 1, found {self.workers}")


@dataclass(frozen=True)
class CameraJob:
    """What one camera renders for one trial."""

    camera: Camera
    jump: Jump
    times: np.ndarray  # (n_frames,) trial time of each triggered frame's exposure start
    exposure_s: float
    video: Path
    seed: int
    options: RenderOptions
    dropped: frozenset[int] = frozenset()  # triggered frames missing from the video
    label_frames: tuple[int, ...] = ()  # triggered frames saved as PNG
    label_dir: Path | None = None


def project_truth(
    group: CameraGroup, jump: Jump, times: np.ndarray, keypoints: Sequence[str] = KEYPOINTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact 2D truth of a trial at trial times ``times`` (n,) at the middle of exposure.

    Returns
    -------
    points3d : (n, K, 3) mm
    uv : (n_cameras, n, K, 2) px, distorted; NaN behind a camera
    visible : (n_cameras, n, K) bool
    """
    pts = jump.points(times)
    kp = np.stack([pts[k] for k in keypoints], axis=1)
    prims = mouse_primitives(pts)
    uv = group.project(kp)
    vis = np.stack([keypoint_visibility(c, prims, kp, list(keypoints)) for c in group])
    return kp, uv, vis


def _noise_bank(camera: Camera, seed: int, sigma: float) -> np.ndarray:
    w, h = camera.size
    rng = np.random.default_rng([seed, 5])
    return (rng.standard_normal((4, h, w), dtype=np.float32) * sigma).astype(np.float32)


def render_camera(job: CameraJob) -> int:
    """Render one camera's video for one trial; returns the number of frames written."""
    import cv2

    cam = job.camera
    opt = job.options
    if cam.size[0] % 2 or cam.size[1] % 2:
        raise InputError(
            f"camera {cam.name!r}: {FOURCC} video needs an even width and height, found "
            f"{cam.size[0]}×{cam.size[1]}; choose a resolution scale that keeps them even"
        )
    rays = camera_rays(cam, supersample=opt.supersample)
    n_sub = opt.motion_blur
    if n_sub == 1:
        offsets = np.array([0.5 * job.exposure_s])
    else:
        offsets = (np.arange(n_sub) + 0.5) / n_sub * job.exposure_s
    sub_times = (job.times[:, None] + offsets[None, :]).ravel()
    prims = mouse_primitives(job.jump.points(sub_times))
    bank = _noise_bank(cam, job.seed, opt.noise_dn)
    rng = np.random.default_rng([job.seed, 6])
    w, h = cam.size
    job.video.parent.mkdir(parents=True, exist_ok=True)
    partial = job.video.with_name(f".{job.video.stem}.partial{VIDEO_SUFFIX}")
    writer = cv2.VideoWriter(
        str(partial),
        cv2.CAP_FFMPEG,
        cv2.VideoWriter.fourcc(*FOURCC),
        float(1.0 / np.median(np.diff(job.times))) if len(job.times) > 1 else 100.0,
        (w, h),
        [cv2.VIDEOWRITER_PROP_IS_COLOR, 0],
    )
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {FOURCC} video {partial}")
    labels = set(job.label_frames)
    written = 0
    try:
        for k in range(len(job.times)):
            shift = rng.integers(0, [h, w])
            which = int(rng.integers(0, len(bank)))
            if k in job.dropped and k not in labels:
                continue
            acc = np.zeros((h, w), np.float32)
            for s in range(n_sub):
                acc += render_mouse(rays, prims, k * n_sub + s)
            img = acc * (255.0 / n_sub) + np.roll(bank[which], tuple(shift), axis=(0, 1))
            frame = np.clip(np.rint(img), 0, 255).astype(np.uint8)
            if k in labels and job.label_dir is not None:
                job.label_dir.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(job.label_dir / f"img{k:05d}.png"), frame)
            if k in job.dropped:
                continue
            writer.write(frame)
            written += 1
    finally:
        writer.release()
    os.replace(partial, job.video)
    return written


def render_cameras(
    jobs: Sequence[CameraJob], *, workers: int = 1, progress: Progress | None = None
) -> list[int]:
    """Render several cameras' videos (in ``workers`` processes); frames written per camera."""
    total = len(jobs)
    report(progress, 0, total, "render")
    if workers <= 1 or total <= 1:
        out = []
        for i, job in enumerate(jobs):
            out.append(render_camera(job))
            report(progress, i + 1, total, "render")
        return out
    import multiprocessing as mp

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(render_camera, job) for job in jobs]
        out = []
        for i, f in enumerate(futures):
            out.append(f.result())
            report(progress, i + 1, total, "render")
    return out


def read_video(path: str | Path) -> np.ndarray:
    """All frames of a grey video (n, H, W) uint8 (OpenCV)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"cannot open video {path}")
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame[..., 0] if frame.ndim == 3 else frame)
    finally:
        cap.release()
    return np.stack(frames) if frames else np.zeros((0, 0, 0), np.uint8)
