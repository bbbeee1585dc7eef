"""Robust triangulation: each point's cameras chosen by reprojection consensus.

Tracking errors — a detector latching onto the wrong paw, a left/right swap in one view, a
reflection — put a single camera's observation far from where the others agree. Like RANSAC,
every pair of cameras that sees a point proposes a 3D point; each proposal is scored by how well
it reprojects into *all* cameras (the truncated squared error of MSAC,
``Σ_c min(e_c², τ²)``), the best proposal's inliers (``e_c < τ``) form the consensus set, and
the point is re-triangulated from those cameras with the weighted DLT (twice, letting cameras
re-enter or leave). Unlike aniposelib's ``triangulate_ransac`` — a Python loop over points and
camera subsets — every step runs on all points at once: all pairs' DLTs are one batched solve,
all reprojections one array operation.

A point whose best proposal has fewer than ``min_views`` inliers (e.g. only two cameras that
disagree) is NaN: no consensus, no point.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.triangulation.dlt import (
    Triangulated,
    solve_points,
    view_errors,
    view_normal_equations,
)

DEFAULT_THRESHOLD_PX = 8.0
_REFITS = 2


def _squared_errors(
    extrinsics: np.ndarray, focal: np.ndarray, points: np.ndarray, xy: np.ndarray
) -> np.ndarray:
    """Approximate squared reprojection errors in px² of candidate points in every camera.

    Parameters
    ----------
    extrinsics : (n_cameras, 3, 4)
    focal : (n_cameras, 2)
        ``fx, fy`` in px: errors are measured between undistorted normalised coordinates and
        scaled by the focal length (equal to pixel errors up to the lens distortion's local
        magnification, a few percent — enough to separate inliers from outliers).
    points : (n_candidates, n_points, 3)
    xy : (n_cameras, n_points, 2)
        Normalised observations; NaN where missing.

    Returns
    -------
    ndarray, (n_candidates, n_cameras, n_points)
        NaN where the observation is missing or the candidate is NaN; +inf where the candidate
        lies behind the camera.
    """
    n_cand, n_pts, _ = points.shape
    flat = points.reshape(-1, 3)
    out = np.empty((n_cand, len(extrinsics), n_pts))
    with np.errstate(invalid="ignore", divide="ignore"):
        for c, P in enumerate(extrinsics):
            pc = (flat @ P[:, :3].T + P[:, 3]).reshape(n_cand, n_pts, 3)
            z = pc[..., 2]
            ex = (pc[..., 0] / z - xy[c, :, 0]) * focal[c, 0]
            ey = (pc[..., 1] / z - xy[c, :, 1]) * focal[c, 1]
            e2 = ex * ex + ey * ey
            out[:, c] = np.where(z > 0, e2, np.where(np.isnan(z), np.nan, np.inf))
    return out


def camera_pairs(n_cameras: int) -> np.ndarray:
    """All pairs ``(i, j), i < j`` of camera indices, (n_pairs, 2)."""
    return np.array(list(combinations(range(n_cameras), 2)), dtype=np.intp).reshape(-1, 2)


def consensus_inliers(
    contrib: np.ndarray,
    observed: np.ndarray,
    xy: np.ndarray,
    extrinsics: np.ndarray,
    focal: np.ndarray,
    *,
    threshold_px: float,
) -> np.ndarray:
    """Which observations agree with the best pair-wise proposal (MSAC), per point.

    Parameters
    ----------
    contrib : (n_cameras, n_points, 10)
        Per-camera DLT normal equations (:func:`~mocap3d.triangulation.dlt.view_normal_equations`).
    observed : (n_cameras, n_points) bool
    xy : (n_cameras, n_points, 2)
        Normalised observations.
    extrinsics : (n_cameras, 3, 4)
    focal : (n_cameras, 2)
    threshold_px : float
        Inlier threshold τ.

    Returns
    -------
    ndarray of bool, (n_cameras, n_points)
        The best proposal's inliers; all False for points no pair of cameras sees.
    """
    pairs = camera_pairs(len(extrinsics))
    n_pts = observed.shape[1]
    if n_pts == 0 or len(pairs) == 0:
        return np.zeros_like(observed)
    both = observed[pairs[:, 0]] & observed[pairs[:, 1]]  # (H, N)
    normal = contrib[pairs[:, 0]] + contrib[pairs[:, 1]]  # (H, N, 10)
    cand = solve_points(normal.reshape(-1, 10), both.reshape(-1), exact=False)
    cand = cand.reshape(len(pairs), n_pts, 3)
    e2 = _squared_errors(extrinsics, focal, cand, xy)  # (H, C, N)
    tau2 = float(threshold_px) ** 2
    with np.errstate(invalid="ignore"):
        cost = np.where(observed[None], np.minimum(e2, tau2), 0.0).sum(axis=1)  # (H, N)
    cost[~both | ~np.isfinite(cost)] = np.inf
    best = np.argmin(cost, axis=0)
    e2_best = np.take_along_axis(e2, best[None, None, :], axis=0)[0]  # (C, N)
    with np.errstate(invalid="ignore"):
        inliers = observed & (e2_best < tau2)
    inliers[:, ~np.isfinite(cost.min(axis=0))] = False
    return inliers


def triangulate_robust(
    group: CameraGroup,
    uv: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    threshold_px: float = DEFAULT_THRESHOLD_PX,
    min_views: int = 2,
    xy: np.ndarray | None = None,
) -> Triangulated:
    """Triangulate with the cameras that agree, rejecting outlying observations.

    Parameters
    ----------
    group : CameraGroup
    uv : ndarray, (n_cameras, ..., 2)
        Distorted pixel coordinates as tracked; NaN where missing.
    weight : ndarray, (n_cameras, ...), optional
        Observation weights (confidence) for the DLT refits; 0 or NaN drops an observation.
        Default 1.
    threshold_px : float
        Inlier threshold: an observation further than this from the consensus point (px) is
        left out.
    min_views : int
        Minimum number of agreeing cameras (≥ 2); points with fewer are NaN.
    xy : ndarray, (n_cameras, ..., 2), optional
        ``group.undistort_points(uv)`` if already computed.

    Returns
    -------
    Triangulated
        ``used`` holds the consensus cameras of each point; ``view_error`` is given for every
        observed camera, used or not, so rejected observations show how far off they were.
    """
    if min_views < 2:
        raise InputError(f"min_views must be at least 2, found {min_views}")
    if not threshold_px > 0:
        raise InputError(f"threshold_px must be > 0 px, found {threshold_px}")
    uv = np.asarray(uv, dtype=np.float64)
    n_cams, shape = uv.shape[0], uv.shape[1:-1]
    flat_uv = uv.reshape(n_cams, -1, 2)
    w = (
        np.ones(flat_uv.shape[:2])
        if weight is None
        else np.asarray(weight, dtype=np.float64).reshape(n_cams, -1)
    )
    xy = (
        group.undistort_points(flat_uv)
        if xy is None
        else np.asarray(xy, dtype=np.float64).reshape(n_cams, -1, 2)
    )
    with np.errstate(invalid="ignore"):
        observed = (w > 0) & np.isfinite(xy[..., 0]) & np.isfinite(xy[..., 1])
    w = np.where(observed, w, 0.0)
    extrinsics = group.extrinsics
    focal = np.array([[c.K[0, 0], c.K[1, 1]] for c in group.cameras])
    contrib = view_normal_equations(xy, w, extrinsics)
    tau2 = float(threshold_px) ** 2
    # every camera first: a point whose truncated cost Σ e² stays below τ² cannot do better
    # by rejecting a camera (that alone costs τ²), so all its cameras are the consensus
    n_obs = observed.sum(axis=0)
    points = solve_points(contrib.sum(axis=0), n_obs >= min_views)
    e2 = _squared_errors(extrinsics, focal, points[None], xy)[0]
    with np.errstate(invalid="ignore"):
        inliers = observed & (e2 < tau2)
        agree = np.where(observed, e2, 0.0).sum(axis=0) < tau2
    disputed = np.flatnonzero(~agree | np.isnan(points[:, 0]) | (inliers != observed).any(axis=0))
    if disputed.size:  # pairs propose, all cameras vote
        inliers[:, disputed] = consensus_inliers(
            contrib[:, disputed],
            observed[:, disputed],
            xy[:, disputed],
            extrinsics,
            focal,
            threshold_px=threshold_px,
        )
        todo = disputed
        for refit in range(_REFITS + 1):  # refit on the inliers; cameras may join or leave
            normal = np.einsum("cnk,cn->nk", contrib[:, todo], inliers[:, todo].astype(float))
            points[todo] = solve_points(normal, inliers[:, todo].sum(axis=0) >= min_views)
            if refit == _REFITS:
                break
            e2 = _squared_errors(extrinsics, focal, points[None, todo], xy[:, todo])[0]
            with np.errstate(invalid="ignore"):
                again = observed[:, todo] & (e2 < tau2)
            changed = (again != inliers[:, todo]).any(axis=0)
            if not changed.any():
                break
            inliers[:, todo] = again
            todo = todo[changed]
    points[inliers.sum(axis=0) < min_views] = np.nan
    used = inliers & np.isfinite(points[:, 0])
    err = view_errors(group, points, flat_uv)
    return Triangulated(
        position=points.reshape(*shape, 3),
        view_error=err.reshape(n_cams, *shape),
        used=used.reshape(n_cams, *shape),
    )
