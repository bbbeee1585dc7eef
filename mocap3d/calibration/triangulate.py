"""Linear (DLT) triangulation of calibration points, for checks and the world frame.

The calibration's own, minimal triangulator: Newton-undistorted normalised coordinates
(:meth:`mocap3d.camera.Camera.undistort_points`) and a homogeneous least-squares solve per
point, vectorised. Pose triangulation has its own module (``mocap3d.triangulation``).
"""

from __future__ import annotations

import numpy as np

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError


def triangulate(group: CameraGroup, uv: np.ndarray) -> np.ndarray:
    """3D points from pixels in several cameras.

    Parameters
    ----------
    group : CameraGroup
    uv : (n_cameras, ..., 2) ndarray
        Pixels; NaN where a camera does not see the point.

    Returns
    -------
    (..., 3) ndarray
        World points, mm; NaN for points seen by fewer than two cameras.
    """
    uv = np.asarray(uv, dtype=np.float64)
    if uv.shape[0] != len(group) or uv.shape[-1] != 2:
        raise InputError(
            f"pixels must have shape ({len(group)}, ..., 2) for this calibration, found {uv.shape}"
        )
    shape = uv.shape[1:-1]
    flat = uv.reshape(len(group), -1, 2)
    xy = np.stack([cam.undistort_points(p) for cam, p in zip(group, flat, strict=True)])
    seen = np.all(np.isfinite(xy), axis=2)  # (C, n)
    P = group.extrinsics  # (C, 3, 4)
    x = np.where(seen, xy[..., 0], 0.0)[..., None]
    y = np.where(seen, xy[..., 1], 0.0)[..., None]
    rows_x = x * P[:, None, 2] - P[:, None, 0]  # (C, n, 4)
    rows_y = y * P[:, None, 2] - P[:, None, 1]
    w = seen[..., None].astype(np.float64)
    A = np.concatenate([rows_x * w, rows_y * w], axis=0).transpose(1, 0, 2)  # (n, 2C, 4)
    out = np.full((flat.shape[1], 3), np.nan)
    ok = seen.sum(axis=0) >= 2
    if np.any(ok):
        _, _, Vt = np.linalg.svd(A[ok])
        X = Vt[:, -1]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[ok] = X[:, :3] / X[:, 3:4]
    return out.reshape(*shape, 3)
