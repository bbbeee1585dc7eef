"""Confidence-weighted DLT triangulation, vectorised over every point of a recording.

Each camera that sees a point contributes two linear equations in the homogeneous world point
``X̃ = (X, 1)``: ``x P₂ − P₀`` and ``y P₂ − P₁``, where ``(x, y)`` are the observation's
normalised (undistorted) coordinates and ``P = [R | t]`` the camera's extrinsics. The DLT
solution is the unit vector minimising ``‖A X̃‖`` — the smallest eigenvector of the 4×4 normal
matrix ``M = AᵀA`` — which is what Anipose / aniposelib compute with an SVD per point. Here the
equations of a camera are weighted by its confidence ``w`` (``M = Σ_c w_c A_cᵀA_c``), and:

- ``M`` of every point is one matrix product: per camera, ``A_cᵀA_c`` is a fixed combination of
  four numbers ``(x² + y², x, y, 1)`` with constant 4×4 matrices built from ``P``;
- the smallest eigenvector is found by Newton's method on the secular equation
  ``(A₃ − λ I) X = −m``, ``λ = s + mᵀX`` (``A₃`` the upper-left 3×3 block of ``M``, ``m`` its
  last column, ``s`` its corner): every step is a closed-form 3×3 solve on arrays, and it
  converges to the exact eigenvector (checked against SVD to 1e-9 mm). The rare point that has
  not converged after a few steps falls back to ``numpy.linalg.eigh``.

Coordinates are in the calibration's world frame, mm. Nothing here loops over points in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap3d.camera import CameraGroup

# upper triangle of a symmetric 4×4 matrix, row-major: 00 01 02 03 11 12 13 22 23 33
_TRIU = np.triu_indices(4)
_FAST_STEPS = 3  # Newton steps on all points before only the unconverged ones continue
_MAX_STEPS = 12  # then LAPACK for the few left (eigenvalues too close to converge fast)
_STEP_TOL = 2e-12  # eigenvalue step, relative to the trace (~ the rounding noise of h)


@dataclass(frozen=True)
class Triangulated:
    """3D points with their per-camera reprojection errors (array form).

    Attributes
    ----------
    position : ndarray, (..., 3)
        World coordinates, mm; NaN where fewer than ``min_views`` cameras were used.
    view_error : ndarray, (n_cameras, ...)
        Reprojection error of the point in each camera, px (distorted pixels, i.e. against the
        observation as tracked); NaN where the camera has no observation or the point is NaN.
    used : ndarray of bool, (n_cameras, ...)
        Which cameras' observations the point was computed from.
    """

    position: np.ndarray
    view_error: np.ndarray
    used: np.ndarray

    @property
    def n_views(self) -> np.ndarray:
        """Number of cameras used per point (..., ), int; 0 where the point is NaN."""
        n = self.used.sum(axis=0)
        return np.where(np.isfinite(self.position[..., 0]), n, 0).astype(np.int16)

    @property
    def reprojection_error(self) -> np.ndarray:
        """Mean reprojection error over the cameras used (...,), px; NaN where no point."""
        err = np.where(self.used, self.view_error, 0.0)
        n = self.used.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = err.sum(axis=0) / n
        return np.where(np.isfinite(self.position[..., 0]) & (n > 0), mean, np.nan)


# ------------------------------------------------------------------------ normal equations


def _camera_blocks(extrinsics: np.ndarray) -> np.ndarray:
    """Per camera, the constant matrices that turn ``(x²+y², x, y, 1)`` into ``A_cᵀA_c``.

    Returns (n_cameras, 4, 10): row ``j`` is the upper triangle of the matrix multiplying
    feature ``j``.
    """
    P0, P1, P2 = extrinsics[:, 0], extrinsics[:, 1], extrinsics[:, 2]

    def sym(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        outer = a[:, :, None] * b[:, None, :]
        return outer + np.swapaxes(outer, 1, 2)

    mats = np.stack(
        [
            P2[:, :, None] * P2[:, None, :],
            -sym(P0, P2),
            -sym(P1, P2),
            P0[:, :, None] * P0[:, None, :] + P1[:, :, None] * P1[:, None, :],
        ],
        axis=1,
    )
    return mats[:, :, _TRIU[0], _TRIU[1]]


def view_normal_equations(xy: np.ndarray, weight: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """Each camera's contribution ``w A_cᵀA_c`` to every point's DLT normal matrix.

    Parameters
    ----------
    xy : ndarray, (n_cameras, n_points, 2)
        Normalised (undistorted) coordinates; NaN where missing.
    weight : ndarray, (n_cameras, n_points)
        Weight of each observation (e.g. its confidence); 0 or NaN drops it.
    extrinsics : ndarray, (n_cameras, 3, 4)
        ``[R | t]`` per camera (world → camera, mm).

    Returns
    -------
    ndarray, (n_cameras, n_points, 10)
        Upper triangles (row-major) of the symmetric 4×4 matrices; zero for dropped observations.
    """
    x, y = xy[..., 0], xy[..., 1]
    with np.errstate(invalid="ignore"):
        keep = (weight > 0) & np.isfinite(x) & np.isfinite(y)
    w = np.where(keep, weight, 0.0)
    x = np.where(keep, x, 0.0)
    y = np.where(keep, y, 0.0)
    wx, wy = w * x, w * y
    features = np.stack([wx * x + wy * y, wx, wy, w], axis=-1)  # (C, N, 4)
    return np.matmul(features, _camera_blocks(np.asarray(extrinsics, dtype=np.float64)))


# ---------------------------------------------------------------------- smallest eigenvector


def _solve_shifted(m: list[np.ndarray], lam: np.ndarray) -> tuple[np.ndarray, ...]:
    """``X = −(A₃ − λI)⁻¹ m`` by cofactors; returns (x0, x1, x2, positive_definite)."""
    a00, a01, a02, m0, a11, a12, m1, a22, m2, _ = m
    b00, b11, b22 = a00 - lam, a11 - lam, a22 - lam
    c00 = b11 * b22 - a12 * a12
    c01 = a02 * a12 - a01 * b22
    c02 = a01 * a12 - a02 * b11
    c11 = b00 * b22 - a02 * a02
    c12 = a01 * a02 - b00 * a12
    c22 = b00 * b11 - a01 * a01
    det = b00 * c00 + a01 * c01 + a02 * c02
    x0 = -(c00 * m0 + c01 * m1 + c02 * m2) / det
    x1 = -(c01 * m0 + c11 * m1 + c12 * m2) / det
    x2 = -(c02 * m0 + c12 * m1 + c22 * m2) / det
    return x0, x1, x2, (b00 > 0) & (c22 > 0) & (det > 0)


def _plain_newton(m: list[np.ndarray], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps from λ = 0 without safeguards; returns (lam, last step).

    Enough for almost every point; a point whose iteration jumped past μ₁ ends where
    ``A₃ − λI`` is not positive definite and is redone by :func:`_newton`.
    """
    s = m[9]
    lam = np.zeros_like(s)
    step = np.full_like(s, np.inf)
    for _ in range(steps):
        x0, x1, x2, _ = _solve_shifted(m, lam)
        h = lam - s - (m[3] * x0 + m[6] * x1 + m[8] * x2)
        step = h / (1.0 + x0 * x0 + x1 * x1 + x2 * x2)
        lam = lam - step
    return lam, step


def _newton(m: list[np.ndarray], state: tuple[np.ndarray, ...], steps: int) -> tuple:
    """Safeguarded Newton steps on the secular equation ``h(λ) = λ − s − mᵀX(λ) = 0``.

    ``h`` is increasing and convex below the smallest eigenvalue μ₁ of ``A₃`` (where
    ``A₃ − λI`` is positive definite), and its root there is the smallest eigenvalue of ``M``.
    Newton from the left overshoots, possibly past μ₁ onto another eigenvalue's branch; so
    each point keeps a bracket ``[lo, hi]`` around the root (``hi`` where ``h > 0`` or
    ``A₃ − λI`` is not positive definite) and bisects when a step leaves it.

    ``state`` and the result are (lam, lo, hi, step).
    """
    s = m[9]
    lam, lo, hi, step = state
    for _ in range(steps):
        x0, x1, x2, pd = _solve_shifted(m, lam)
        h = lam - s - (m[3] * x0 + m[6] * x1 + m[8] * x2)
        right = ~pd | (h > 0)
        hi = np.where(right, np.minimum(hi, lam), hi)
        lo = np.where(right, lo, np.maximum(lo, lam))
        newton = lam - h / (1.0 + x0 * x0 + x1 * x1 + x2 * x2)
        inside = pd & (newton > lo) & (newton < hi)
        new = np.where(inside, newton, 0.5 * (lo + hi))
        step = new - lam
        lam = new
    return lam, lo, hi, step


def _points_at(m: list[np.ndarray], lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x0, x1, x2, pd = _solve_shifted(m, lam)
    return np.stack([x0, x1, x2], axis=-1), pd


def solve_normal_equations(normal: np.ndarray, *, exact: bool = True) -> np.ndarray:
    """Smallest eigenvector of each DLT normal matrix, as a 3D point.

    Parameters
    ----------
    normal : ndarray, (n_points, 10)
        Upper triangles of symmetric positive semi-definite 4×4 matrices.
    exact : bool
        False: the linear least-squares point ``A₃X = −m`` instead (minimises ``‖A (X, 1)‖``;
        one 3×3 solve, no iteration — close to the DLT point, e.g. for RANSAC proposals).

    Returns
    -------
    ndarray, (n_points, 3)
        ``X`` with ``(X, 1)`` ∝ the eigenvector of the smallest eigenvalue; NaN where that
        eigenvector has no finite 3D point (e.g. a matrix of zeros).
    """
    normal = np.asarray(normal, dtype=np.float64)
    n = normal.shape[0]
    out = np.full((n, 3), np.nan)
    if n == 0:
        return out
    m = [normal[:, k] for k in range(10)]
    if not exact:
        with np.errstate(all="ignore"):
            out[:], pd = _points_at(m, np.zeros(n))
        out[~pd] = np.nan
        return out
    tol = _STEP_TOL * np.abs(m[0] + m[4] + m[7] + m[9])  # relative to the trace
    with np.errstate(all="ignore"):
        lam, step = _plain_newton(m, _FAST_STEPS)
        out[:], pd = _points_at(m, lam)
        idx = np.flatnonzero(~(pd & (np.abs(step) <= tol)))
        if idx.size:  # the few left: safeguarded, from the start
            sub = [a[idx] for a in m]
            k = idx.size
            start = (np.zeros(k), np.full(k, -np.inf), np.full(k, np.inf), np.full(k, np.inf))
            state = _newton(sub, start, _MAX_STEPS)
            out[idx], pd = _points_at(sub, state[0])
            still = idx[~(pd & (np.abs(state[3]) <= tol[idx]))]
            if still.size:
                out[still] = _eigh_points(normal[still])
    out[~(np.isfinite(out[:, 0]) & np.isfinite(out[:, 1]) & np.isfinite(out[:, 2]))] = np.nan
    return out


def _eigh_points(normal: np.ndarray) -> np.ndarray:
    """Exact fallback: LAPACK eigen-decomposition of each 4×4 matrix."""
    full = np.zeros((normal.shape[0], 4, 4))
    full[:, _TRIU[0], _TRIU[1]] = normal
    full[:, _TRIU[1], _TRIU[0]] = normal
    ok = np.isfinite(full).all(axis=(1, 2))
    out = np.full((normal.shape[0], 3), np.nan)
    if ok.any():
        vec = np.linalg.eigh(full[ok])[1][:, :, 0]
        with np.errstate(all="ignore"):
            out[ok] = vec[:, :3] / vec[:, 3:]
    return out


# ------------------------------------------------------------------------------ public API


def dlt_normalised(
    xy: np.ndarray, weight: np.ndarray, extrinsics: np.ndarray, *, min_views: int = 2
) -> np.ndarray:
    """Weighted DLT from normalised coordinates.

    Parameters
    ----------
    xy : ndarray, (n_cameras, n_points, 2)
        Normalised (undistorted) coordinates; NaN where missing.
    weight : ndarray, (n_cameras, n_points)
        Observation weights; 0 or NaN drops an observation. Use 1 for an unweighted DLT (the
        same points as aniposelib's ``triangulate(..., undistort=False)``).
    extrinsics : ndarray, (n_cameras, 3, 4)
    min_views : int
        Points with fewer usable observations are NaN.

    Returns
    -------
    ndarray, (n_points, 3)
        World points, mm.
    """
    contrib = view_normal_equations(xy, weight, extrinsics)
    with np.errstate(invalid="ignore"):
        n = ((weight > 0) & np.isfinite(xy[..., 0]) & np.isfinite(xy[..., 1])).sum(axis=0)
    return solve_points(contrib.sum(axis=0), n >= min_views)


def solve_points(normal: np.ndarray, valid: np.ndarray, *, exact: bool = True) -> np.ndarray:
    """:func:`solve_normal_equations` for the ``valid`` points only; NaN elsewhere, (n, 3)."""
    out = np.full((normal.shape[0], 3), np.nan)
    idx = np.flatnonzero(valid)
    if idx.size == normal.shape[0]:
        return solve_normal_equations(normal, exact=exact)
    out[idx] = solve_normal_equations(normal[idx], exact=exact)
    return out


def view_errors(group: CameraGroup, points: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Reprojection error of ``points`` (..., 3) in every camera against pixels ``uv``.

    Returns (n_cameras, ...) px; NaN where either is NaN.
    """
    diff = group.project(points) - uv
    return np.hypot(diff[..., 0], diff[..., 1])


def triangulate_dlt(
    group: CameraGroup,
    uv: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    min_views: int = 2,
    xy: np.ndarray | None = None,
) -> Triangulated:
    """Confidence-weighted DLT of pixel observations.

    Parameters
    ----------
    group : CameraGroup
        Calibration; camera ``i`` observes ``uv[i]``.
    uv : ndarray, (n_cameras, ..., 2)
        Distorted pixel coordinates as tracked; NaN where missing.
    weight : ndarray, (n_cameras, ...), optional
        Per-observation weights, e.g. tracker confidence (scores below a threshold should be
        set to 0 beforehand); NaN or 0 drops an observation. Default: 1 for every finite
        observation (the plain DLT).
    min_views : int
        Minimum number of cameras; points seen by fewer are NaN.
    xy : ndarray, (n_cameras, ..., 2), optional
        ``group.undistort_points(uv)`` if already computed.

    Returns
    -------
    Triangulated
        Points (..., 3) mm, per-camera reprojection errors (px) and the cameras used.
    """
    uv = np.asarray(uv, dtype=np.float64)
    shape = uv.shape[1:-1]
    n_cams = uv.shape[0]
    flat_uv = uv.reshape(n_cams, -1, 2)
    if weight is None:
        w = np.ones(flat_uv.shape[:2])
    else:
        w = np.asarray(weight, dtype=np.float64).reshape(n_cams, -1)
    if xy is None:
        xy = group.undistort_points(flat_uv)
    else:
        xy = np.asarray(xy, dtype=np.float64).reshape(n_cams, -1, 2)
    with np.errstate(invalid="ignore"):
        used = (w > 0) & np.isfinite(xy[..., 0]) & np.isfinite(xy[..., 1])
    points = dlt_normalised(xy, np.where(used, w, 0.0), group.extrinsics, min_views=min_views)
    err = view_errors(group, points, flat_uv)
    used &= np.isfinite(points[:, 0])
    return Triangulated(
        position=points.reshape(*shape, 3),
        view_error=err.reshape(n_cams, *shape),
        used=used.reshape(n_cams, *shape),
    )
