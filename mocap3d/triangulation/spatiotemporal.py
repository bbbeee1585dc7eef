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

The problem is solved by Levenberg–Marquardt with iteratively reweighted least squares. With
variables ordered frame by frame, the normal matrix is banded (bandwidth ``6 × points``): each
step is one banded Cholesky factorisation (LAPACK ``pbtrf``), linear in the number of frames.
Long recordings are cut into overlapping chunks by the caller
(:mod:`mocap3d.triangulation.pipeline`); the overlap hides the seams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_solve_banded, cholesky_banded

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.triangulation.dlt import Triangulated, view_errors

_CG_MAX_ITER = 200
_FTOL = 1e-5  # stop when an iteration lowers the cost by less than this fraction
_PRIOR_SD_MM = 1e4  # ε = 1/σ: keeps unobserved stretches well-posed, negligible elsewhere


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
        How much bone lengths may vary (skin markers slide), mm.
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


# ------------------------------------------------------------------------- linear algebra


@dataclass
class _Normal:
    """The Gauss–Newton normal matrix ``H`` of a chunk, kept in pieces (never assembled).

    ``H = blocks (3×3 per frame and point) + w_smooth DᵀD (per point and axis, along frames)
    − bone cross terms``. Products ``H v`` cost a few array operations; systems are solved by
    conjugate gradients preconditioned with ``H`` minus the bone cross terms, which is banded
    per point (bandwidth 6) and factorised by LAPACK in linear time.
    """

    blocks: np.ndarray  # (T, P, 3, 3), symmetric
    w_smooth: float
    bone_a: np.ndarray  # (B,)
    bone_b: np.ndarray  # (B,)
    bone_k: np.ndarray  # (T, B, 3, 3): H[a, b] = H[b, a] = −bone_k

    def diagonal(self) -> np.ndarray:
        d = np.diagonal(self.blocks, axis1=2, axis2=3).copy()  # (T, P, 3)
        d += self.w_smooth * _smoothness_diagonal(len(d))[:, None, None]
        return d

    def matvec(self, v: np.ndarray, damping: np.ndarray) -> np.ndarray:
        out = np.einsum("tpde,tpe->tpd", self.blocks, v)
        out += self.w_smooth * _smoothness_gradient(v) + damping * v
        if len(self.bone_a):
            kb = np.einsum("tbde,tbe->tbd", self.bone_k, v[:, self.bone_b])
            ka = np.einsum("tbde,tbe->tbd", self.bone_k, v[:, self.bone_a])
            out -= _to_points(kb, self.bone_a, out.shape[1])
            out -= _to_points(ka, self.bone_b, out.shape[1])
        return out

    def preconditioner(self, damping: np.ndarray) -> np.ndarray:
        """Cholesky factor (upper banded, 7 rows) of ``H`` without bone cross terms, ordered
        (point, frame, axis)."""
        T, P = self.blocks.shape[:2]
        n = 3 * T * P
        ab = np.zeros((7, n))
        blocks = self.blocks.transpose(1, 0, 2, 3).reshape(-1, 3, 3)  # (P·T, 3, 3)
        base = 3 * np.arange(P * T)
        for d in range(3):
            for e in range(d, 3):
                ab[6 + d - e, base + e] = blocks[:, d, e]
        ab[6] += damping.transpose(1, 0, 2).reshape(-1)
        if T >= 3:
            chain = np.zeros((P, T, 3))
            chain[:] = _smoothness_diagonal(T)[None, :, None]
            ab[6] += self.w_smooth * chain.reshape(-1)
            off1 = np.zeros((P, T, 3))
            off1[:, 1:] = -4.0
            off1[:, 1] = off1[:, T - 1] = -2.0
            ab[3] += self.w_smooth * off1.reshape(-1)
            off2 = np.zeros((P, T, 3))
            off2[:, 2:] = 1.0
            ab[0] += self.w_smooth * off2.reshape(-1)
        return cholesky_banded(ab, lower=False, check_finite=False)

    def solve(self, rhs: np.ndarray, damping: np.ndarray, *, rtol: float = 1e-2) -> np.ndarray:
        """``(H + diag(damping))⁻¹ rhs`` for (T, P, 3) by preconditioned conjugate gradients.

        Solved to a relative residual ``rtol`` only: an inexact Newton step, as accurate as the
        next Levenberg–Marquardt iteration needs.
        """
        T, P, _ = rhs.shape
        factor = self.preconditioner(damping)

        def precond(r: np.ndarray) -> np.ndarray:
            z = cho_solve_banded(
                (factor, False), r.transpose(1, 0, 2).reshape(-1), check_finite=False
            )
            return z.reshape(P, T, 3).transpose(1, 0, 2)

        x = np.zeros_like(rhs)
        r = rhs.copy()
        z = precond(r)
        p = z.copy()
        rz = float(np.vdot(r, z))
        stop = rtol * float(np.sqrt(np.vdot(rhs, rhs)))
        for _ in range(_CG_MAX_ITER):
            hp = self.matvec(p, damping)
            alpha = rz / float(np.vdot(p, hp))
            x += alpha * p
            r -= alpha * hp
            if float(np.sqrt(np.vdot(r, r))) <= stop:
                break
            z = precond(r)
            rz_new = float(np.vdot(r, z))
            p = z + (rz_new / rz) * p
            rz = rz_new
        return x


def _to_points(values: np.ndarray, points: np.ndarray, n_points: int) -> np.ndarray:
    """Sum ``values`` (T, B, ...) per bone into (T, P, ...) at ``points`` (B,), adding up
    points shared by several bones (one small matrix product, not a scatter)."""
    onehot = np.zeros((len(points), n_points))
    onehot[np.arange(len(points)), points] = 1.0
    moved = np.moveaxis(values, 1, -1)  # (T, ..., B)
    return np.moveaxis(moved @ onehot, -1, 1)


def _smoothness_diagonal(T: int) -> np.ndarray:
    """Diagonal of DᵀD for second differences over T frames."""
    diag = np.zeros(T)
    if T >= 3:
        diag[: T - 2] += 1
        diag[1 : T - 1] += 4
        diag[2:] += 1
    return diag


def _second_difference(X: np.ndarray) -> np.ndarray:
    return X[:-2] - 2 * X[1:-1] + X[2:]


def _smoothness_gradient(X: np.ndarray) -> np.ndarray:
    """``DᵀD X`` along frames for (T, P, 3)."""
    g = np.zeros_like(X)
    if len(X) >= 3:
        a = _second_difference(X)
        g[:-2] += a
        g[1:-1] -= 2 * a
        g[2:] += a
    return g


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
    w_bone: float  # 1 / σ_b²
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
        total += self.w_smooth * float((_second_difference(X) ** 2).sum())
        if len(self.bones):
            d = np.linalg.norm(X[:, self.bones[:, 0]] - X[:, self.bones[:, 1]], axis=-1)
            total += self.w_bone * float(((d - self.lengths) ** 2).sum())
        total += float(((X - self.X0) ** 2).sum()) / _PRIOR_SD_MM**2
        return total

    def normal_equations(self, X: np.ndarray) -> tuple[_Normal, np.ndarray]:
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
        blocks[:, :, [0, 1, 2], [0, 1, 2]] += 1.0 / _PRIOR_SD_MM**2
        wr = w[..., None] * r
        g = (wr[..., 0:1] * jx + wr[..., 1:2] * jy).sum(axis=0)
        g += self.w_smooth * _smoothness_gradient(X) + (X - self.X0) / _PRIOR_SD_MM**2
        a, b = self.bones[:, 0], self.bones[:, 1]
        bone_k = np.zeros((T, len(a), 3, 3))
        if len(a):
            diff = X[:, a] - X[:, b]  # (T, B, 3)
            d = np.linalg.norm(diff, axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                u = np.where(d[..., None] > 1e-9, diff / d[..., None], 0.0)
            bone_k = self.w_bone * u[..., :, None] * u[..., None, :]  # (T, B, 3, 3)
            grad = self.w_bone * (d - self.lengths)[..., None] * u  # w.r.t. X_a
            blocks += _to_points(bone_k, a, P) + _to_points(bone_k, b, P)
            g += _to_points(grad, a, P) - _to_points(grad, b, P)
        return _Normal(blocks, self.w_smooth, a, b, bone_k), g


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
        Their lengths, mm; estimated from ``init`` (median) when not given.
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
        bone_lengths = estimate_bone_lengths(init, bone_idx)
    lengths = np.asarray(bone_lengths, dtype=np.float64).reshape(-1)
    keep = np.isfinite(lengths) & (lengths > 0)
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
        w_bone=1.0 / options.bone_sd_mm**2,
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


def estimate_bone_lengths(points: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """Median length of each bone over the frames where both ends are known, mm.

    Parameters
    ----------
    points : ndarray, (n_frames, n_points, 3)
    bones : ndarray, (n_bones, 2) point indices

    Returns
    -------
    ndarray, (n_bones,)
        NaN for a bone never seen whole.
    """
    bones = np.asarray(bones, dtype=np.intp).reshape(-1, 2)
    if not len(bones):
        return np.zeros(0)
    d = np.linalg.norm(points[:, bones[:, 0]] - points[:, bones[:, 1]], axis=-1)  # (T, B)
    out = np.full(len(bones), np.nan)
    for i in range(len(bones)):
        col = d[:, i]
        col = col[np.isfinite(col)]
        if col.size:
            out[i] = float(np.median(col))
    return out
