"""Spatiotemporal triangulation: all frames of a stretch of recording solved together.

The 3D trajectory ``X`` (frames × points × 3, mm) minimises

    Σ_obs w ρ(‖r_obs‖²)                      robust reprojection error (px), Cauchy loss
  + Σ_t,p ‖X[t-1] − 2X[t] + X[t+1]‖² / σ_a²  smooth motion: acceleration prior (mm/frame²)
  + Σ_t,bones (‖X_a − X_b‖ − L_ab)² / σ_b²   rigid bones from the rig's skeleton
  + ε² ‖X − X₀‖²                           a faint pull to the initial estimate

where ``r_obs`` is the difference between the reprojected point and the observation in
undistorted normalised coordinates, scaled by the focal length (≈ px). The initial estimate
comes from robust triangulation (:mod:`mocap3d.triangulation.robust`), so gross outliers start
with tiny weights; the Cauchy loss keeps them there whether or not the scores flagged them.

The problem is solved by Levenberg–Marquardt with iteratively reweighted least squares; each
step's linear system is solved by conjugate gradients preconditioned with a banded Cholesky
factor per keypoint (:mod:`._normal_matrix`), so a step costs time linear in the number of
frames and never forms a dense matrix. Long recordings are cut into overlapping chunks by the
caller (:mod:`mocap3d.triangulation.pipeline`); the overlap hides the seams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.triangulation._normal_matrix import (
    PRIOR_SD_MM,
    NormalMatrix,
    second_difference,
    smoothness_gradient,
    to_points,
)
from mocap3d.triangulation.dlt import Triangulated, view_errors

_FTOL = 1e-5  # stop when an iteration lowers the cost by less than this fraction


@dataclass(frozen=True)
class SpatiotemporalOptions:
    """Knobs of the spatiotemporal solver.

    Attributes
    ----------
    accel_sd : float
        Standard deviation of the acceleration prior, mm/s² (converted with the frame rate).
        Smaller smooths more. The default, 20 m/s² (≈ 2 g), keeps the push-off and landing of
        a mouse jump while averaging away tracking noise at 200–500 fps.
    bone_sd_mm : float
        How much a bone's length may vary at least, mm; bones measured to vary more (skin
        markers slide, a "bone" between two landmarks that move apart) get their measured
        spread instead (:func:`estimate_bones`).
    loss_scale_px : float
        Scale of the Cauchy reprojection loss: errors well beyond it hardly pull.
    inlier_px : float
        Observations with a final reprojection error above this count as not used.
    max_iterations : int
        Levenberg–Marquardt iterations.
    """

    accel_sd: float = 20_000.0
    bone_sd_mm: float = 0.5
    loss_scale_px: float = 3.0
    inlier_px: float = 8.0
    max_iterations: int = 12

    def __post_init__(self) -> None:
        for name in ("accel_sd", "bone_sd_mm", "loss_scale_px", "inlier_px"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0 and np.isfinite(value)):
                raise InputError(f"spatiotemporal option {name} must be > 0, found {value!r}")
        if self.max_iterations < 1:
            raise InputError(f"max_iterations must be ≥ 1, found {self.max_iterations}")


# ------------------------------------------------------------------------------ the solver


@dataclass
class _Problem:
    xy: np.ndarray  # (C, T, P, 2) normalised observations, NaN where missing
    weight: np.ndarray  # (C, T, P) observation weights, 0 where missing
    R: np.ndarray  # (C, 3, 3)
    t: np.ndarray  # (C, 3)
    focal: np.ndarray  # (C, 2)
    bones: np.ndarray  # (B, 2) point indices a < b
    lengths: np.ndarray  # (B,) mm
    w_smooth: float  # 1 / σ_a² (per frame²)
    w_bone: np.ndarray  # (B,) 1 / σ_b²
    scale2: float  # Cauchy scale², px²
    X0: np.ndarray  # (T, P, 3) initial estimate

    def residuals(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reprojection residuals (C, T, P, 2) px, normalised projections and depths (C, T, P)."""
        pc = np.matmul(X.reshape(1, -1, 3), np.swapaxes(self.R, 1, 2)) + self.t[:, None, :]
        pc = pc.reshape((*self.xy.shape[:-1], 3))
        z = pc[..., 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            inv_z = 1.0 / z
            xyn = pc[..., :2] * inv_z[..., None]
            r = (xyn - self.xy) * self.focal[:, None, None, :]
        r[self.weight <= 0] = 0.0
        return r, xyn, z

    def cost(self, X: np.ndarray) -> float:
        r, _, z = self.residuals(X)
        r2 = (r * r).sum(axis=-1)
        bad = ~(z > 0) & (self.weight > 0)  # behind a camera: worst case
        reproj = self.weight * self.scale2 * np.log1p(r2 / self.scale2)
        reproj[bad] = self.weight[bad] * self.scale2 * 50.0
        total = float(reproj.sum())
        total += self.w_smooth * float((second_difference(X) ** 2).sum())
        if len(self.bones):
            d = np.linalg.norm(X[:, self.bones[:, 0]] - X[:, self.bones[:, 1]], axis=-1)
            total += float((self.w_bone * (d - self.lengths) ** 2).sum())
        total += float(((X - self.X0) ** 2).sum()) / PRIOR_SD_MM**2
        return total

    def normal_equations(self, X: np.ndarray) -> tuple[NormalMatrix, np.ndarray]:
        """Gauss–Newton normal matrix (IRLS weights at ``X``) and gradient (T, P, 3)."""
        T, P, _ = X.shape
        r, xyn, z = self.residuals(X)
        r2 = (r * r).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = self.weight / (1.0 + r2 / self.scale2)  # IRLS weights of the Cauchy loss
            w = np.where(z > 0, w, 0.0)
            inv_z = np.where(z > 0, 1.0 / z, 0.0)
        # Jacobians of the two residuals w.r.t. X: (C, T, P, 3)
        R = self.R[:, None, None]
        fx = (self.focal[:, 0, None, None] * inv_z)[..., None]
        fy = (self.focal[:, 1, None, None] * inv_z)[..., None]
        jx = np.nan_to_num(fx * (R[..., 0, :] - xyn[..., 0:1] * R[..., 2, :]))
        jy = np.nan_to_num(fy * (R[..., 1, :] - xyn[..., 1:2] * R[..., 2, :]))
        blocks = np.empty((T, P, 3, 3))
        for d in range(3):
            wx, wy = w * jx[..., d], w * jy[..., d]
            for e in range(d, 3):
                blocks[:, :, d, e] = (wx * jx[..., e] + wy * jy[..., e]).sum(axis=0)
                blocks[:, :, e, d] = blocks[:, :, d, e]
        blocks[:, :, [0, 1, 2], [0, 1, 2]] += 1.0 / PRIOR_SD_MM**2
        wr = w[..., None] * r
        g = (wr[..., 0:1] * jx + wr[..., 1:2] * jy).sum(axis=0)
        g += self.w_smooth * smoothness_gradient(X) + (X - self.X0) / PRIOR_SD_MM**2
        a, b = self.bones[:, 0], self.bones[:, 1]
        bone_k = np.zeros((T, len(a), 3, 3))
        if len(a):
            diff = X[:, a] - X[:, b]  # (T, B, 3)
            d = np.linalg.norm(diff, axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                u = np.where(d[..., None] > 1e-9, diff / d[..., None], 0.0)
            w_b = self.w_bone[:, None, None]
            bone_k = w_b * u[..., :, None] * u[..., None, :]  # (T, B, 3, 3)
            grad = (self.w_bone * (d - self.lengths))[..., None] * u  # w.r.t. X_a
            blocks += to_points(bone_k, a, P) + to_points(bone_k, b, P)
            g += to_points(grad, a, P) - to_points(grad, b, P)
        return NormalMatrix(blocks, self.w_smooth, a, b, bone_k), g


def refine(
    group: CameraGroup,
    uv: np.ndarray,
    init: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    xy: np.ndarray | None = None,
    fps: float,
    bones: Sequence[tuple[int, int]] = (),
    bone_lengths: np.ndarray | None = None,
    bone_sd: np.ndarray | None = None,
    options: SpatiotemporalOptions = SpatiotemporalOptions(),
) -> Triangulated:
    """Refine a trajectory by spatiotemporal optimisation.

    Parameters
    ----------
    group : CameraGroup
    uv : ndarray, (n_cameras, n_frames, n_points, 2)
        Distorted pixels as tracked; NaN where missing.
    init : ndarray, (n_frames, n_points, 3)
        Initial 3D points (mm), e.g. from robust triangulation; NaN where unknown (filled by
        interpolation along frames).
    weight : ndarray, (n_cameras, n_frames, n_points), optional
        Observation weights (confidence); 0 or NaN drops an observation. Default 1.
    xy : ndarray, optional
        ``group.undistort_points(uv)`` if already computed.
    fps : float
        Frame rate, converts the acceleration prior to per-frame units.
    bones : sequence of (int, int)
        Pairs of point indices (along ``n_points``) whose distance stays constant.
    bone_lengths : ndarray, (n_bones,), optional
        Their lengths, mm; estimated from ``init`` (:func:`estimate_bones`) when not given.
    bone_sd : ndarray, (n_bones,), optional
        How much each bone's length truly varies, mm (estimated with the lengths when those
        are not given). A bone's length is held to within ``max(bone_sd, options.bone_sd_mm)``.
    options : SpatiotemporalOptions

    Returns
    -------
    Triangulated
        Points (n_frames, n_points, 3); every frame gets a point where the chunk has any data
        for that point (gaps are bridged by the motion prior — the caller decides which gaps
        are too long to keep). ``used`` marks observations within ``options.inlier_px``.
    """
    uv = np.asarray(uv, dtype=np.float64)
    C, T, P, _ = uv.shape
    w = np.ones((C, T, P)) if weight is None else np.asarray(weight, dtype=np.float64)
    if xy is None:
        xy = group.undistort_points(uv)
    with np.errstate(invalid="ignore"):
        observed = (w > 0) & np.isfinite(xy[..., 0]) & np.isfinite(xy[..., 1])
    w = np.where(observed, w, 0.0)
    X0 = fill_gaps(np.asarray(init, dtype=np.float64))
    bone_idx = np.array([sorted(b) for b in bones], dtype=np.intp).reshape(-1, 2)
    if bone_lengths is None:
        bone_lengths, bone_sd = estimate_bones(init, bone_idx)
    lengths = np.asarray(bone_lengths, dtype=np.float64).reshape(-1)
    keep = np.isfinite(lengths) & (lengths > 0)
    sd = np.zeros(len(lengths)) if bone_sd is None else np.asarray(bone_sd, float).reshape(-1)
    sd = np.fmax(np.nan_to_num(sd), options.bone_sd_mm)
    sd_frame = options.accel_sd / float(fps) ** 2
    problem = _Problem(
        xy=xy,
        weight=w,
        R=group.extrinsics[:, :, :3],
        t=group.extrinsics[:, :, 3],
        focal=np.array([[c.K[0, 0], c.K[1, 1]] for c in group.cameras]),
        bones=bone_idx[keep],
        lengths=lengths[keep],
        w_smooth=1.0 / sd_frame**2,
        w_bone=1.0 / sd[keep] ** 2,
        scale2=options.loss_scale_px**2,
        X0=X0,
    )
    X = _levenberg_marquardt(problem, X0, options.max_iterations)
    has_data = np.any(observed, axis=(0, 1))  # (P,): points with no data at all → NaN
    X[:, ~has_data] = np.nan
    err = view_errors(group, X, uv)
    with np.errstate(invalid="ignore"):
        used = observed & (err < options.inlier_px)
    return Triangulated(position=X, view_error=err, used=used)


def _levenberg_marquardt(problem: _Problem, X: np.ndarray, max_iterations: int) -> np.ndarray:
    cost = problem.cost(X)
    mu = 1e-4
    for _ in range(max_iterations):
        normal, g = problem.normal_equations(X)
        diag = normal.diagonal()
        while True:
            try:
                step = normal.solve(-g, mu * diag + 1e-12)
            except LinAlgError:  # not positive definite: damp more
                step = np.zeros_like(X)
            X_new = X + step
            new_cost = problem.cost(X_new)
            if new_cost <= cost or mu > 1e8:
                break
            mu *= 10
        if new_cost > cost:
            break
        converged = cost - new_cost <= _FTOL * cost or np.abs(step).max() < 1e-5
        X, cost = X_new, new_cost
        mu = max(mu / 10, 1e-8)
        if converged:
            break
    return X


# ---------------------------------------------------------------------- initial estimates


def fill_gaps(points: np.ndarray) -> np.ndarray:
    """Fill NaN frames of each point's trajectory (T, P, 3) by linear interpolation.

    Ends are held constant; a point with no finite frame takes the mean of the other points
    in each frame (or 0 if no point is known at all).
    """
    X = np.array(points, dtype=np.float64, copy=True)
    T, P, _ = X.shape
    frames = np.arange(T)
    ok = np.all(np.isfinite(X), axis=-1)  # (T, P)
    for p in range(P):  # one trajectory at a time: P is the number of keypoints, not points
        good = ok[:, p]
        if good.all() or not good.any():
            continue
        for d in range(3):
            X[:, p, d] = np.interp(frames, frames[good], X[good, p, d])
    empty = ~ok.any(axis=0)
    if empty.any():
        X[:, empty] = X[:, ~empty].mean(axis=1, keepdims=True) if (~empty).any() else 0.0
    return X


def estimate_bones(points: np.ndarray, bones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each bone's length and how much that length truly varies, from triangulated points.

    Parameters
    ----------
    points : ndarray, (n_frames, n_points, 3)
        Consecutive frames (NaN where unknown), e.g. a robust triangulation.
    bones : ndarray, (n_bones, 2) point indices

    Returns
    -------
    lengths, spread : ndarray, (n_bones,) each, mm
        Median length; and its robust SD (1.4826 × MAD) with the triangulation jitter taken
        out — a bone's true length barely changes from one frame to the next, so the spread of
        frame-to-frame changes (/√2) measures the noise. Near 0 for a rigid bone; large for a
        "bone" between landmarks that move relative to each other (e.g. eye–forepaw). NaN for
        a bone never seen whole.
    """
    bones = np.asarray(bones, dtype=np.intp).reshape(-1, 2)
    lengths = np.full(len(bones), np.nan)
    spread = np.full(len(bones), np.nan)
    if not len(bones):
        return lengths, spread
    d = np.linalg.norm(points[:, bones[:, 0]] - points[:, bones[:, 1]], axis=-1)  # (T, B)
    for i in range(len(bones)):  # one bone at a time: a handful
        col = d[:, i]
        known = col[np.isfinite(col)]
        if not known.size:
            continue
        lengths[i] = float(np.median(known))
        total = 1.4826 * float(np.median(np.abs(known - lengths[i])))
        steps = np.diff(col)
        steps = steps[np.isfinite(steps)]
        jitter = 1.4826 * float(np.median(np.abs(steps))) / np.sqrt(2) if steps.size else 0.0
        spread[i] = float(np.sqrt(max(total**2 - jitter**2, 0.0)))
    return lengths, spread
