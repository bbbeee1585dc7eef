"""Calibration footage of a simulated rig: a ChArUco board moved through the arena.

:func:`render_board_footage` renders a board from ``calibration/boards/`` into every camera of a
simulated rig (:func:`mocap3d.simulate.rig_geometry.camera_layout`) by inverse mapping
(:mod:`mocap3d.simulate.board_render`), with supersampling, blur, sensor noise, exposure
changes, partial views and frames without the board, and returns the truth: board poses and
the true pixel position of every corner in every camera and frame.

:func:`write_board_footage` writes the frames in the project layout
(``calibration/footage/<camera>.mp4`` or ``<camera>/frame_000000.png``) with the truth beside
them (``board_truth.npz`` and ``calibration_true.toml``). The same seed gives the same pixels
(PNG files are byte-identical).

:func:`footage_hook` does both for :func:`mocap3d.simulate.project.simulate_project`
(``board_footage=footage_hook()``), so a simulated project can be calibrated.

Frame 0 shows the board lying on the force platform, centred, its x axis along the world x
axis and its printed side up (``truth.platform_frame``): the frame a world frame is made
from (:mod:`mocap3d.calibration.world`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from mocap3d.calibration.board import BoardSpec
from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.io.anipose import calibration_from_dict, calibration_to_dict
from mocap3d.io.atomic import atomic_path
from mocap3d.progress import Progress, report
from mocap3d.simulate.board_motion import BoardFootageOptions, board_poses, true_corners
from mocap3d.simulate.board_render import (
    BoardTexture,
    background_scene,
    board_texture,
    ray_map,
    render_board,
)
from mocap3d.simulate.rig_geometry import ARENA_TARGET

if TYPE_CHECKING:
    from mocap3d.rig import Rig
    from mocap3d.simulate.project import BoardFootageHook

__all__ = [
    "TRUE_CALIBRATION_FILE",
    "TRUTH_FILE",
    "BoardFootageOptions",
    "BoardFootageTruth",
    "footage_hook",
    "load_board_footage_truth",
    "render_board_footage",
    "write_board_footage",
    "write_frames",
]

TRUTH_FILE = "board_truth.npz"
TRUE_CALIBRATION_FILE = "calibration_true.toml"


@dataclass(frozen=True)
class BoardFootageTruth:
    """What a calibration of the footage should recover.

    Attributes
    ----------
    cameras : CameraGroup
        The true calibration (world: origin at the platform centre, z up, mm).
    spec : BoardSpec
    board_to_world : (n_frames, 4, 4) float64 ndarray
        Board → world transform per frame; NaN for frames without the board.
    corners : (n_cameras, n_frames, n_corners, 2) float64 ndarray
        True pixel position of every corner (ids as OpenCV's); NaN where the corner is not
        visible (outside the image, board facing away or seen too obliquely, no board).
    platform_frame : int
        Frame showing the board lying on the platform, or -1.
    """

    cameras: CameraGroup
    spec: BoardSpec
    board_to_world: np.ndarray
    corners: np.ndarray
    platform_frame: int

    def save(self, path: str | Path) -> None:
        """Write the truth as ``.npz`` (atomically)."""
        meta = {
            "spec": self.spec.to_dict(),
            "cameras": calibration_to_dict(self.cameras),
            "platform_frame": self.platform_frame,
        }
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                board_to_world=self.board_to_world,
                corners=self.corners,
                meta=np.array(json.dumps(meta)),
            )


def load_board_footage_truth(path: str | Path) -> BoardFootageTruth:
    """Read what :meth:`BoardFootageTruth.save` wrote."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"board footage truth {path} does not exist")
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        return BoardFootageTruth(
            cameras=calibration_from_dict(meta["cameras"], source=str(path)),
            spec=BoardSpec.model_validate(meta["spec"]),
            board_to_world=data["board_to_world"],
            corners=data["corners"],
            platform_frame=int(meta["platform_frame"]),
        )


# ---------------------------------------------------------------------------- rendering


def _texture(cameras: CameraGroup, spec: BoardSpec, options: BoardFootageOptions) -> BoardTexture:
    """Texture fine enough that the supersampled pixels never alias it."""
    f_max = max(float(c.K[0, 0]) for c in cameras)
    nearest = min(float(np.linalg.norm(c.center - ARENA_TARGET)) for c in cameras)
    nearest = max(nearest - float(np.linalg.norm(options.volume_mm)), 50.0)
    ppmm = min(2.0 * options.supersample * f_max / nearest, 40.0)
    return board_texture(
        spec, px_per_mm=ppmm, margin_mm=options.margin_squares * spec.square_length_mm
    )


def render_board_footage(
    cameras: CameraGroup,
    spec: BoardSpec,
    *,
    options: BoardFootageOptions = BoardFootageOptions(),
    seed: int = 0,
    workers: int | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, np.ndarray], BoardFootageTruth]:
    """Render the board footage of every camera.

    Parameters
    ----------
    cameras : CameraGroup
        The (true) rig, e.g. from :func:`~mocap3d.simulate.rig_geometry.camera_layout`.
    spec : BoardSpec
    options : BoardFootageOptions
    seed : int
        Everything random (poses, exposure, noise) follows from it.
    workers : int, optional
        Threads rendering cameras in parallel (default: number of CPUs).
    progress : Progress, optional

    Returns
    -------
    frames : dict of str to (n_frames, H, W) uint8 ndarray
        Grayscale frames per camera name.
    truth : BoardFootageTruth
    """
    import cv2

    if options.n_frames < 1 or options.supersample < 1:
        raise InputError("n_frames and supersample must be ≥ 1")
    seeds = np.random.SeedSequence(seed).spawn(2 + len(cameras))
    poses = board_poses(cameras, spec, options, np.random.default_rng(seeds[0]))
    gains = np.random.default_rng(seeds[1]).uniform(*options.exposure, size=options.n_frames)
    texture = _texture(cameras, spec, options)
    truth = BoardFootageTruth(
        cameras,
        spec,
        poses,
        true_corners(cameras, spec, poses),
        0 if options.platform_frame else -1,
    )
    done = [0]
    total = len(cameras) * options.n_frames

    def one_camera(c: int) -> np.ndarray:
        cam = cameras[c]
        rng = np.random.default_rng(seeds[2 + c])
        rays = ray_map(cam)
        bg = background_scene((cam.size[1], cam.size[0]), rng)
        out = np.empty((options.n_frames, cam.size[1], cam.size[0]), np.uint8)
        for f, T in enumerate(poses):
            img = bg
            if np.all(np.isfinite(T)):
                R_bc = cam.R @ T[:3, :3]
                t_bc = cam.R @ T[:3, 3] + cam.t
                light = 0.85 + 0.15 * abs(float(R_bc[2, 2]))
                img = render_board(
                    cam,
                    rays,
                    R_bc,
                    t_bc,
                    texture,
                    bg,
                    supersample=options.supersample,
                    shade=light,
                )
            if options.blur_px > 0:
                img = cv2.GaussianBlur(img, (0, 0), options.blur_px)
            img = img * (255.0 * gains[f]) + rng.normal(0, options.noise, img.shape)
            out[f] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
            done[0] += 1
            report(progress, done[0], total, "render board footage")
        return out

    n_workers = workers or min(len(cameras), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        rendered = list(pool.map(one_camera, range(len(cameras))))
    return dict(zip(cameras.names, rendered, strict=True)), truth


# ------------------------------------------------------------------------------ writing


def write_frames(
    frames: np.ndarray, path: str | Path, *, fmt: Literal["png", "mp4"], fps: float = 30.0
) -> Path:
    """Write (n, H, W) uint8 frames as ``<path>.mp4`` or an image folder ``<path>/``.

    The result appears complete or not at all (written beside, then renamed).
    """
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "mp4":
        target = path.with_suffix(".mp4")
        with atomic_path(target) as tmp:
            video = tmp.with_suffix(".mp4")
            h, w = frames.shape[1:]
            writer = cv2.VideoWriter(
                str(video), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h), False
            )
            if not writer.isOpened():
                raise InputError(f"cannot write video {target}: OpenCV has no mp4v encoder")
            for frame in frames:
                writer.write(frame)
            writer.release()
            os.replace(video, tmp)
        return target
    tmp_dir = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(tmp_dir / f"frame_{i:06d}.png"), frame)
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp_dir, path)
    return path


def write_board_footage(
    out_dir: str | Path,
    frames: dict[str, np.ndarray],
    truth: BoardFootageTruth,
    *,
    fmt: Literal["png", "mp4"] = "png",
    fps: float = 30.0,
    cameras: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Write footage as ``out_dir/<camera>.mp4`` or ``out_dir/<camera>/`` plus the truth.

    Returns the footage path of every camera. ``out_dir`` is typically a project's
    ``calibration/footage``.
    """
    out_dir = Path(out_dir)
    paths = {
        name: write_frames(frames[name], out_dir / name, fmt=fmt, fps=fps)
        for name in (cameras or list(frames))
    }
    truth.save(out_dir / TRUTH_FILE)
    truth.cameras.save(out_dir / TRUE_CALIBRATION_FILE)
    return paths


def footage_hook(
    n_frames: int = 120,
    *,
    fmt: Literal["png", "mp4"] = "png",
    supersample: int = 2,
    progress: Progress | None = None,
) -> BoardFootageHook:
    """A ``board_footage=`` hook for :func:`~mocap3d.simulate.project.simulate_project`.

    The hook renders ``n_frames`` frames of the rig's board into every (true) camera
    (:func:`render_board_footage`, the other options at their defaults) and writes them with
    the truth into the project's ``calibration/footage/`` (:func:`write_board_footage`), where
    ``mocap3d calibrate --project`` finds them.

    Parameters
    ----------
    n_frames : int
        Frames per camera (≥ 1), the first one showing the board on the platform. The default
        120 gave every camera ≥ 27 views and a calibration within 3.5 mm and 1.1° of the truth
        on the demo rig for seeds 0–15 of ``mocap3d simulate``; with 80, one seed in 16 left a
        camera with 8 views and a poor calibration.
    fmt : {"png", "mp4"}
        ``<camera>/frame_000000.png`` image folders (lossless, byte-identical for a seed)
        or ``<camera>.mp4`` videos.
    supersample : int
        Anti-aliasing samples per pixel along each axis (≥ 1).
    progress : Progress, optional
        Receives the rendering progress.
    """
    if n_frames < 1 or supersample < 1:
        raise InputError(
            f"board footage needs n_frames ≥ 1 and supersample ≥ 1, found {n_frames} "
            f"and {supersample}"
        )
    if fmt not in ("png", "mp4"):
        raise InputError(f"board footage format must be 'png' or 'mp4', found {fmt!r}")
    options = BoardFootageOptions(n_frames=n_frames, supersample=supersample)

    def hook(folder: Path, rig: Rig, cameras: CameraGroup, seed: int) -> None:
        frames, truth = render_board_footage(
            cameras, rig.board, options=options, seed=seed, progress=progress
        )
        write_board_footage(folder, frames, truth, fmt=fmt)

    return hook
