"""Where the simulated calibration board goes: poses through the arena, and the true corners.

The choreography a careful rig builder follows: the board lying on the platform first (the
world frame), then turned between pairs of cameras (shared views, for the extrinsics), facing
single cameras, and held close to each camera anywhere in its image (for the lens).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap3d.calibration.board import BoardSpec
from mocap3d.camera import CameraGroup, rodrigues_to_matrix
from mocap3d.simulate.rig_geometry import ARENA_TARGET


@dataclass(frozen=True)
class BoardFootageOptions:
    """Knobs of :func:`render_board_footage`.

    Attributes
    ----------
    n_frames : int
        Frames per camera, the platform frame included.
    supersample : int
        Samples per pixel along each axis.
    blur_px : float
        Gaussian blur (sigma, output pixels): defocus and motion.
    noise : float
        Sensor noise, standard deviation in grey levels (0–255).
    exposure : (float, float)
        Range of the per-frame exposure gain.
    empty_fraction : float
        Share of frames without the board (taken out of view).
    volume_mm : (float, float, float)
        Extent of the board centre positions (x, y, z) around the arena's working volume.
    tilt_deg : float
        Random tilt (standard deviation) of the board away from the cameras it faces.
    close_up_fraction : float
        Share of frames where the board is held closer to one camera, anywhere in its view
        (covers the image corners for the lens distortion).
    platform_frame : bool
        Frame 0 shows the board lying on the platform (for the world frame).
    margin_squares : float
        White paper around the squares, in squares.
    """

    n_frames: int = 60
    supersample: int = 3
    blur_px: float = 0.5
    noise: float = 1.5
    exposure: tuple[float, float] = (0.75, 1.1)
    empty_fraction: float = 0.05
    volume_mm: tuple[float, float, float] = (80.0, 60.0, 50.0)
    tilt_deg: float = 30.0
    close_up_fraction: float = 0.35
    platform_frame: bool = True
    margin_squares: float = 1.0


def _frame_from_normal(facing: np.ndarray, spin: float) -> np.ndarray:
    """Board → world rotation whose printed side faces ``facing`` (board z = −facing)."""
    z = -facing / np.linalg.norm(facing)
    helper = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c, s = np.cos(spin), np.sin(spin)
    x, y = c * x + s * y, -s * x + c * y
    return np.column_stack([x, y, z])


def _rotate_random(v: np.ndarray, angle: float, rng: np.random.Generator) -> np.ndarray:
    axis = np.cross(v, rng.normal(size=3))
    axis *= angle / np.linalg.norm(axis)
    return rodrigues_to_matrix(axis) @ v


def camera_pairs(cameras: CameraGroup, max_angle_deg: float = 130.0) -> list[tuple[int, int]]:
    """Pairs of cameras that can share a board view: their directions from the working
    volume differ by less than ``max_angle_deg``; a camera with no such partner is paired
    with its nearest one, so that every camera is linked."""
    to_cams = cameras.centers - ARENA_TARGET
    to_cams /= np.linalg.norm(to_cams, axis=1, keepdims=True)
    angle = np.degrees(np.arccos(np.clip(to_cams @ to_cams.T, -1, 1)))
    n = len(cameras)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if angle[i, j] < max_angle_deg]
    for i in range(n):
        if n > 1 and not any(i in p for p in pairs):
            j = int(np.argsort(angle[i])[1])
            pairs.append((min(i, j), max(i, j)))
    return pairs


def board_poses(
    cameras: CameraGroup,
    spec: BoardSpec,
    options: BoardFootageOptions,
    rng: np.random.Generator,
) -> np.ndarray:
    """Board → world poses (n_frames, 4, 4); NaN for frames without the board.

    Most boards sit in the working volume turned between two cameras of a
    :func:`camera_pairs` pair (taken in turn, so every pair gets shared views, for the
    extrinsics); some face one camera; ``close_up_fraction`` of them are held close to one
    camera anywhere in its view (image corners and edges, for the lens).
    """
    centres = cameras.centers
    centre_board = np.array([*spec.size_mm, 0.0]) / 2
    poses = np.full((options.n_frames, 4, 4), np.nan)
    n_empty = round(options.empty_fraction * options.n_frames)
    first = 1 if options.platform_frame else 0
    empty = set(rng.choice(np.arange(first, options.n_frames), size=n_empty, replace=False))
    half = np.asarray(options.volume_mm) / 2
    pairs = camera_pairs(cameras)
    order = rng.permutation(len(pairs)) if pairs else np.zeros(0, int)
    n_pair = 0
    for f in range(options.n_frames):
        if f in empty:
            continue
        if f == 0 and options.platform_frame:  # lying on the platform, printed side up
            R = np.column_stack([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])
            T = np.eye(4)
            T[:3, :3], T[:3, 3] = R, -R @ centre_board
            poses[f] = T
            continue
        mode = rng.random()
        tilt_deg = options.tilt_deg
        if mode < options.close_up_fraction:  # close to one camera, anywhere in its view
            cam = cameras[int(rng.integers(len(centres)))]
            w, h = cam.size
            uv = rng.uniform([0.15 * w, 0.15 * h], [0.85 * w, 0.85 * h])
            ray = np.append(cam.undistort_points(uv), 1.0)
            depth = np.linalg.norm(cam.center - ARENA_TARGET) * rng.uniform(0.45, 0.85)
            c = cam.center + cam.R.T @ (ray / np.linalg.norm(ray)) * depth
            facing = (cam.center - c) / np.linalg.norm(cam.center - c)
        else:  # in the working volume, between the two cameras of a pair, or facing one
            c = ARENA_TARGET + rng.uniform(-half, half)
            to_cams = centres - c
            to_cams /= np.linalg.norm(to_cams, axis=1, keepdims=True)
            if pairs and mode < options.close_up_fraction + 0.75 * (1 - options.close_up_fraction):
                i, j = pairs[order[n_pair % len(pairs)]]
                n_pair += 1
                # between the two, nearer to both than the volume's centre: seen at up to
                # ~65° each, the board must be large in both images to be detected
                towards = to_cams[i] + to_cams[j]
                towards /= np.linalg.norm(towards)
                reach = 0.5 * (np.linalg.norm(centres[i] - c) + np.linalg.norm(centres[j] - c))
                c = c + towards * reach * rng.uniform(0.0, 0.2)
                to_cams = centres - c
                to_cams /= np.linalg.norm(to_cams, axis=1, keepdims=True)
                facing = to_cams[i] + to_cams[j] * rng.uniform(0.8, 1.25)
                tilt_deg = options.tilt_deg / 3  # stay visible to both
            else:
                facing = to_cams[int(rng.integers(len(centres)))]
        tilt = rng.normal(0, 1) * np.radians(tilt_deg)
        facing = _rotate_random(facing / np.linalg.norm(facing), tilt, rng)
        R = _frame_from_normal(facing, rng.uniform(0, 2 * np.pi))
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = R, c - R @ centre_board
        poses[f] = T
    return poses


def true_corners(cameras: CameraGroup, spec: BoardSpec, poses: np.ndarray) -> np.ndarray:
    """Pixel positions (n_cameras, n_frames, n_corners, 2) of the corners, NaN if not visible.

    A corner is visible when it projects inside the image and the camera sees the printed
    side at more than 15° from the board plane.
    """
    obj = spec.corner_points_mm()
    out = np.full((len(cameras), len(poses), len(obj), 2), np.nan)
    for f, T in enumerate(poses):
        if not np.all(np.isfinite(T)):
            continue
        world = obj @ T[:3, :3].T + T[:3, 3]
        normal_towards_viewer = -T[:3, 2]
        for c, cam in enumerate(cameras):
            uv = cam.project(world)
            view = cam.center - world
            cosang = (view @ normal_towards_viewer) / np.linalg.norm(view, axis=1)
            ok = cam.in_image(uv) & (cosang > np.sin(np.radians(15)))
            out[c, f, ok] = uv[ok]
    return out
