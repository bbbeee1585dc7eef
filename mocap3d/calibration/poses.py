"""Rigid poses: board pose from one view (PnP), 4×4 transforms and robust averaging.

A pose is a 4×4 homogeneous matrix ``T`` mapping points of one frame to another
(``X_to = T[:3, :3] @ X_from + T[:3, 3]``), lengths in mm.
"""

from __future__ import annotations

import numpy as np

from mocap3d.camera import Camera, matrix_to_rodrigues, rodrigues_to_matrix


def make_T(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, np.ravel(t)
    return T


def T_from_rt(rt: np.ndarray) -> np.ndarray:
    """``(rvec, t)`` (6,) → 4×4."""
    return make_T(rodrigues_to_matrix(rt[:3]), rt[3:])


def rt_from_T(T: np.ndarray) -> np.ndarray:
    """4×4 → ``(rvec, t)`` (6,)."""
    return np.concatenate([matrix_to_rodrigues(T[:3, :3]), T[:3, 3]])


def invert_T(T: np.ndarray) -> np.ndarray:
    R, t = T[:3, :3], T[:3, 3]
    return make_T(R.T, -R.T @ t)


def rotation_angle_deg(R: np.ndarray) -> float:
    """Angle of a rotation matrix, degrees."""
    return float(np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1.0, 1.0))))


def project_to_rotation(M: np.ndarray) -> np.ndarray:
    """Nearest rotation matrix to ``M`` (3, 3) in the Frobenius sense."""
    U, _, Vt = np.linalg.svd(M)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    return U @ D @ Vt


def robust_mean_T(
    Ts: list[np.ndarray], *, max_angle_deg: float = 5.0, max_shift_mm: float | None = None
) -> tuple[np.ndarray, int]:
    """Robust average of transforms that should agree.

    The medoid (the transform closest to all others in rotation) picks the consensus; those
    within ``max_angle_deg`` (and ``max_shift_mm``, default 5% of the median translation
    length + 1 mm) are averaged (chordal mean of rotations, mean of translations).

    Returns the mean transform and how many transforms agreed with it.
    """
    if len(Ts) == 1:
        return Ts[0].copy(), 1
    Rs = np.stack([T[:3, :3] for T in Ts])
    ts = np.stack([T[:3, 3] for T in Ts])
    cos = (np.einsum("aij,bij->ab", Rs, Rs) - 1) / 2  # cos of relative angles
    ang = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    medoid = int(np.argmin(np.median(ang, axis=1)))
    shift = max_shift_mm
    if shift is None:
        shift = 0.05 * float(np.median(np.linalg.norm(ts, axis=1))) + 1.0
    ok = (ang[medoid] <= max_angle_deg) & (np.linalg.norm(ts - ts[medoid], axis=1) <= shift)
    R = project_to_rotation(Rs[ok].sum(axis=0))
    return make_T(R, ts[ok].mean(axis=0)), int(ok.sum())


def board_pose(camera: Camera, obj: np.ndarray, uv: np.ndarray) -> tuple[np.ndarray, float]:
    """Board → camera pose from one view of a planar board.

    Parameters
    ----------
    camera : Camera
        Intrinsics (its own pose is ignored).
    obj : (n, 3) ndarray
        Board points (z = 0), mm; n ≥ 4.
    uv : (n, 2) ndarray
        Their pixels.

    Returns
    -------
    T : (4, 4) ndarray
        NaN if no pose was found.
    rms_px : float
        Reprojection error of the pose.
    """
    xy = camera.undistort_points(uv)
    f = float(np.sqrt(camera.K[0, 0] * camera.K[1, 1]))
    return _pose_from_rays(obj, xy, f)


def _pose_from_rays(obj: np.ndarray, xy: np.ndarray, f: float) -> tuple[np.ndarray, float]:
    """:func:`board_pose` from normalised (undistorted) coordinates ``xy`` (n, 2)."""
    import cv2

    ok = np.all(np.isfinite(xy), axis=1)
    nan = (np.full((4, 4), np.nan), np.inf)
    if ok.sum() < 4:
        return nan
    o = np.ascontiguousarray(obj[ok], dtype=np.float64)
    if np.linalg.matrix_rank(o[:, :2] - o[:, :2].mean(axis=0), tol=1e-6) < 2:
        return nan  # collinear corners: no pose
    p = np.ascontiguousarray(xy[ok], dtype=np.float64).reshape(-1, 1, 2)
    eye = np.eye(3)
    try:
        n, rvecs, tvecs, _ = cv2.solvePnPGeneric(o, p, eye, None, flags=cv2.SOLVEPNP_IPPE)
    except cv2.error:
        return nan
    best: tuple[np.ndarray, float] = nan
    for k in range(n):
        rvec, tvec = cv2.solvePnPRefineLM(o, p, eye, None, rvecs[k].copy(), tvecs[k].copy())
        T = make_T(rodrigues_to_matrix(rvec), tvec)
        cam_pts = o @ T[:3, :3].T + T[:3, 3]
        if np.any(cam_pts[:, 2] <= 0):
            continue
        proj = cam_pts[:, :2] / cam_pts[:, 2:]
        rms = float(np.sqrt(np.mean(np.sum((proj - p.reshape(-1, 2)) ** 2, axis=1)))) * f
        if rms < best[1]:
            best = (T, rms)
    return best


def view_poses(
    camera: Camera, obj: np.ndarray, corners: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`board_pose` of every view.

    Parameters
    ----------
    corners : (n_views, n_corners, 2) ndarray
        NaN where a corner was not found.

    Returns
    -------
    T : (n_views, 4, 4) ndarray
        NaN where no pose was found.
    rms : (n_views,) ndarray
    """
    Ts = np.full((len(corners), 4, 4), np.nan)
    rms = np.full(len(corners), np.inf)
    xy = camera.undistort_points(corners)  # all views at once
    f = float(np.sqrt(camera.K[0, 0] * camera.K[1, 1]))
    for v in range(len(corners)):
        seen = np.isfinite(corners[v, :, 0])
        if seen.sum() >= 4:
            Ts[v], rms[v] = _pose_from_rays(obj[seen], xy[v, seen], f)
    return Ts, rms
