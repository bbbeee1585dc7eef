"""The world frame: origin and axes on the force platform, in millimetres.

A calibration comes out of bundle adjustment in its reference camera's frame. Two ways to
put it on the platform:

- **board on the platform** (:func:`world_from_board`): film the board lying printed side up
  on the platform, centred, its x axis (along ``squares_x``) pointing in the jump direction.
  World origin: the board centre, lowered by the board's thickness onto the platform
  surface; x along the board's x axis, z up (out of the printed side), y = z × x.
- **reference points** (:func:`world_from_points`): three or more named points whose world
  coordinates you know (e.g. ``origin``, a point on the +x axis, a point in the xy plane),
  seen by at least two cameras each; the rigid transform that best maps their triangulated
  positions onto the given coordinates defines the world.

Both return a new :class:`~mocap3d.camera.CameraGroup` (the input is never changed); the
scale is not changed (it comes from the board's square length).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mocap3d.calibration.board import BoardSpec
from mocap3d.calibration.poses import invert_T, make_T, robust_mean_T
from mocap3d.calibration.triangulate import triangulate
from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError


def transform_group(group: CameraGroup, T_new_old: np.ndarray) -> CameraGroup:
    """Re-express a calibration in a new world frame.

    ``T_new_old`` (4, 4) maps old world coordinates to new ones (rigid, mm).
    """
    T_old_new = invert_T(T_new_old)
    cams = []
    for cam in group:
        T_cam = make_T(cam.R, cam.t) @ T_old_new
        cams.append(cam.replace(R=T_cam[:3, :3], t=T_cam[:3, 3]))
    return group.replace(cameras=tuple(cams))


def board_frame_to_world(spec: BoardSpec, *, thickness_mm: float = 0.0) -> np.ndarray:
    """Board → world (4, 4) for a board lying printed side up, centred at the origin.

    Board x → world x; board y → world −y; board z (into the board) → world −z.
    """
    R = np.diag([1.0, -1.0, -1.0])
    centre = np.array([*spec.size_mm, 0.0]) / 2
    return make_T(R, -R @ centre + np.array([0.0, 0.0, thickness_mm]))


def world_from_board(
    group: CameraGroup,
    board_to_old_world: np.ndarray,
    spec: BoardSpec,
    *,
    thickness_mm: float = 0.0,
) -> CameraGroup:
    """Put the world origin and axes on the platform from the pose of a board lying on it.

    Parameters
    ----------
    group : CameraGroup
        The calibration (any world frame).
    board_to_old_world : (4, 4) ndarray
        The board's pose in ``group``'s world (e.g. from
        :func:`board_pose_from_views` or the bundle adjustment's board poses).
    spec : BoardSpec
    thickness_mm : float
        Board thickness: the origin is this far below the printed surface.
    """
    T_new_board = board_frame_to_world(spec, thickness_mm=thickness_mm)
    return transform_group(group, T_new_board @ invert_T(board_to_old_world))


def board_pose_from_views(
    group: CameraGroup, corners: Mapping[str, np.ndarray], spec: BoardSpec
) -> np.ndarray:
    """Board → world pose from its corners in one frame, robustly averaged over the cameras.

    Parameters
    ----------
    group : CameraGroup
    corners : mapping of str to (n_corners, 2) ndarray
        Per camera, the corners of that frame (NaN where not seen).
    spec : BoardSpec

    Raises
    ------
    InputError
        No camera sees enough of the board in that frame.
    """
    from mocap3d.calibration.poses import board_pose

    obj = spec.corner_points_mm()
    Ts = []
    for name, uv in corners.items():
        seen = np.isfinite(uv[:, 0])
        if seen.sum() < 6:
            continue
        cam = group[name]
        T_cb, _ = board_pose(cam, obj[seen], uv[seen])
        if np.all(np.isfinite(T_cb)):
            Ts.append(invert_T(make_T(cam.R, cam.t)) @ T_cb)
    if not Ts:
        raise InputError(
            "world frame: no camera sees at least 6 corners of the board lying on the "
            "platform; film it where two cameras see it well (or choose another frame)"
        )
    T, _ = robust_mean_T(Ts, max_angle_deg=2.0)
    return T


def world_from_points(
    group: CameraGroup,
    pixels: Mapping[str, Mapping[str, Any]],
    world_mm: Mapping[str, Any],
) -> CameraGroup:
    """Put the world frame on named reference points of known coordinates.

    Parameters
    ----------
    group : CameraGroup
    pixels : mapping of point name to (mapping of camera name to (2,) pixel)
        Where each point is seen; at least two cameras per point.
    world_mm : mapping of point name to (3,) coordinates, mm
        At least three non-collinear points, e.g. ``{"origin": (0, 0, 0), "x_axis":
        (50, 0, 0), "plane": (0, 40, 0)}``.

    Raises
    ------
    InputError
        Fewer than three usable points, collinear points, or a point seen by < 2 cameras.
    """
    names = [n for n in world_mm if n in pixels]
    if len(names) < 3:
        raise InputError(
            f"world frame: need ≥ 3 reference points with both pixels and world coordinates; "
            f"have {names} (pixels for {sorted(pixels)}, coordinates for {sorted(world_mm)})"
        )
    uv = np.full((len(group), len(names), 2), np.nan)
    for j, name in enumerate(names):
        for cam_name, p in pixels[name].items():
            uv[group.index(cam_name), j] = np.asarray(p, dtype=np.float64)
        if np.isfinite(uv[:, j, 0]).sum() < 2:
            raise InputError(
                f"world frame: reference point {name!r} is seen by fewer than 2 cameras; "
                "give its pixel position in at least two"
            )
    old = triangulate(group, uv)
    new = np.asarray([world_mm[n] for n in names], dtype=np.float64)
    if np.linalg.matrix_rank(new - new.mean(axis=0), tol=1e-6) < 2:
        raise InputError(f"world frame: reference points {names} are collinear")
    return transform_group(group, rigid_fit(old, new))


def rigid_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rigid transform (4, 4) with ``dst ≈ R @ src + t`` (Kabsch)."""
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    H = (src - cs).T @ (dst - cd)
    U, _, Vt = np.linalg.svd(H)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    return make_T(R, cd - R @ cs)


def load_reference_points(
    path: str | Path,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Read reference points: one ``[points.<name>]`` table per point::

        [points.origin]
        world_mm = [0.0, 0.0, 0.0]
        pixels = { side_left = [512.4, 610.2], front = [640.0, 588.9] }

    Returns ``(pixels, world_mm)`` as :func:`world_from_points` takes them.
    """
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"reference points file {path} does not exist; write one with a [points.<name>] "
            "table per point (world_mm and pixels per camera), or use another world frame"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"reference points file {path} is not valid TOML: {exc}") from None
    points = data.get("points")
    if not isinstance(points, dict) or not points:
        raise InputError(f"{path}: no [points.<name>] tables")
    pixels, world = {}, {}
    for name, table in points.items():
        if not isinstance(table, dict) or "world_mm" not in table or "pixels" not in table:
            raise InputError(f"{path}: [points.{name}] needs world_mm = [x, y, z] and pixels")
        world[name] = table["world_mm"]
        pixels[name] = dict(table["pixels"])
    return pixels, world
