"""Sparse Levenberg–Marquardt for :class:`~mocap3d.calibration._ba.Problem`.

The normal equations have the classic bundle-adjustment structure: camera blocks, board-pose
blocks (6 × 6, one per view, independent of each other) and the coupling between them. The
pose blocks are eliminated (Schur complement), leaving a small dense system in the camera
parameters, so one iteration costs little more than one Jacobian. A robust loss (soft-L1,
Huber or Cauchy on each observation's squared pixel error) enters as iteratively re-weighted
least squares.

:func:`solve_scipy` solves the same problem with ``scipy.optimize.least_squares`` (sparse
Jacobian, LSMR trust region); it is slower and kept as a cross-check.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mocap3d.calibration._ba import Problem

Loss = Literal["linear", "soft_l1", "huber", "cauchy"]


@dataclass(frozen=True)
class Solution:
    """What a solver found.

    Attributes
    ----------
    x : (n_params,) ndarray
    residuals : (n_obs, 2) ndarray
        Projected minus observed pixels at ``x``.
    camera_cov : list of (p, p) ndarray
        Per camera, the covariance of its free parameters (Gauss–Newton, board poses
        marginalised, scaled by a robust estimate of the pixel noise variance); empty if not
        computed.
    iterations : int
    converged : bool
    """

    x: np.ndarray
    residuals: np.ndarray
    camera_cov: list[np.ndarray]
    iterations: int
    converged: bool


def _rho(s: np.ndarray, loss: Loss, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Loss value and weight (derivative) for squared errors ``s``."""
    c2 = c * c
    if loss == "linear":
        return s, np.ones_like(s)
    if loss == "soft_l1":
        q = np.sqrt(1 + s / c2)
        return 2 * c2 * (q - 1), 1 / q
    if loss == "huber":
        big = s > c2
        root = np.sqrt(np.where(big, s, c2))
        return np.where(big, 2 * c * root - c2, s), np.where(big, c / root, 1.0)
    if loss == "cauchy":
        return c2 * np.log1p(s / c2), 1 / (1 + s / c2)
    raise ValueError(f"unknown loss {loss!r}")


class _Normal:
    """Weighted normal equations in Schur form."""

    def __init__(
        self, problem: Problem, J_cam: np.ndarray, J_pose: np.ndarray, r: np.ndarray, w: np.ndarray
    ):
        n_cams, n_views = len(problem.cameras), len(problem.poses)
        P = J_cam.shape[2]
        cam, view = problem.cam, problem.view
        wJc = J_cam * w[:, None, None]
        wJp = J_pose * w[:, None, None]
        self.A = np.zeros((n_cams, P, P))
        self.gc = np.zeros((n_cams, P))
        for c in range(n_cams):
            sel = problem._sel[c]
            a = J_cam[sel].reshape(-1, P)
            self.A[c] = wJc[sel].reshape(-1, P).T @ a
            self.gc[c] = wJc[sel].reshape(-1, P).T @ r[sel].ravel()
        Jp_t = wJp.transpose(0, 2, 1)
        self.D = _group_sum(Jp_t @ J_pose, view, n_views)
        self.gf = _group_sum((Jp_t @ r[:, :, None])[:, :, 0], view, n_views)
        B = wJc.transpose(0, 2, 1) @ J_pose  # (n_obs, P, 6)
        self.B = _group_sum(B, view * n_cams + cam, n_views * n_cams)
        self.B = self.B.reshape(n_views, n_cams * P, 6)
        counts = np.diff(problem._offsets)
        self.used = (np.arange(P)[None, :] < counts[:, None]).ravel()
        self.n_cams, self.P = n_cams, P

    def step(self, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """Damped Gauss–Newton step: (camera part (n_cams, P), pose part (n_views, 6))."""
        idx = np.arange(6)
        D = self.D.copy()
        D[:, idx, idx] += lam * (D[:, idx, idx] + 1e-12)
        Dinv = np.linalg.inv(D)
        nP = self.n_cams * self.P
        S = np.zeros((nP, nP))
        for c in range(self.n_cams):
            blk = slice(c * self.P, (c + 1) * self.P)
            A = self.A[c].copy()
            A[np.diag_indices(self.P)] += lam * (np.diag(A) + 1e-12)
            S[blk, blk] = A
        BD = self.B @ Dinv  # (n_views, nP, 6)
        S -= (
            BD.reshape(-1, nP, 6).transpose(1, 0, 2).reshape(nP, -1)
            @ self.B.reshape(-1, nP, 6).transpose(1, 0, 2).reshape(nP, -1).T
        )
        rhs = -self.gc.ravel() + np.einsum("faj,fj->a", BD, self.gf)
        unused = ~self.used
        S[unused, :] = 0
        S[:, unused] = 0
        S[unused, unused] = 1
        rhs[unused] = 0
        try:
            dc = np.linalg.solve(S, rhs)
        except np.linalg.LinAlgError:
            dc = np.linalg.lstsq(S, rhs, rcond=None)[0]
        df = np.einsum("fij,fj->fi", Dinv, -self.gf - np.einsum("fai,a->fi", self.B, dc))
        return dc.reshape(self.n_cams, self.P), df

    def camera_covariance(self) -> np.ndarray:
        """(n_cams·P) square covariance (up to the residual variance) of the camera params."""
        Dinv = np.linalg.pinv(self.D)
        nP = self.n_cams * self.P
        S = np.zeros((nP, nP))
        for c in range(self.n_cams):
            S[c * self.P : (c + 1) * self.P, c * self.P : (c + 1) * self.P] = self.A[c]
        S -= np.einsum("fai,fij,fbj->ab", self.B, Dinv, self.B)
        unused = ~self.used
        S[unused, :] = 0
        S[:, unused] = 0
        S[unused, unused] = 1
        try:
            return np.linalg.inv(S)
        except np.linalg.LinAlgError:
            return np.full((nP, nP), np.inf)


def _group_sum(values: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """Sum ``values`` (m, ...) into ``n`` groups by integer ``keys`` (m,)."""
    out = np.zeros((n, *values.shape[1:]))
    if len(keys) == 0:
        return out
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    out[k[starts]] = np.add.reduceat(values[order], starts, axis=0)
    return out


def _apply(problem: Problem, x: np.ndarray, dc: np.ndarray, df: np.ndarray) -> np.ndarray:
    out = x.copy()
    for c, sl in enumerate(problem.camera_slices()):
        n = sl.stop - sl.start
        out[sl] += dc[c, :n]
    out[problem.n_camera_params :] += df.ravel()
    return out


def solve(
    problem: Problem,
    *,
    x0: np.ndarray | None = None,
    loss: Loss = "soft_l1",
    f_scale: float = 1.0,
    max_iterations: int = 100,
    ftol: float = 1e-12,
    with_std: bool = False,
) -> Solution:
    """Minimise ½ Σ ρ(|projected − observed|²) by Levenberg–Marquardt with a Schur complement.

    Parameters
    ----------
    problem : Problem
    x0 : ndarray, optional
        Start (default: the problem's own).
    loss : {"linear", "soft_l1", "huber", "cauchy"}
        Robust loss on each observation's squared pixel error.
    f_scale : float
        Pixel error at which the robust loss starts to discount, px.
    max_iterations : int
    ftol : float
        Stop when an accepted step lowers the cost by less than this fraction.
    with_std : bool
        Also estimate the covariance of the camera parameters.
    """
    # the linear algebra is many small matrices: BLAS threads only get in each other's way
    with _blas().limit(limits=1, user_api="blas"):
        return _solve(problem, x0, loss, f_scale, max_iterations, ftol, with_std)


@functools.cache
def _blas() -> Any:
    """The process's BLAS thread pools (found once: scanning the libraries takes ~5 ms)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _solve(
    problem: Problem,
    x0: np.ndarray | None,
    loss: Loss,
    f_scale: float,
    max_iterations: int,
    ftol: float,
    with_std: bool,
) -> Solution:
    x = problem.x0() if x0 is None else np.asarray(x0, dtype=np.float64).copy()
    r = problem.residuals(x).reshape(-1, 2)
    rho, w = _rho(np.sum(r * r, axis=1), loss, f_scale)
    cost = 0.5 * float(rho.sum())
    lam = 1e-4
    converged = False
    it = 0
    for _ in range(max_iterations):
        it += 1
        J_cam, J_pose = problem.jacobian(x, r.ravel())
        normal = _Normal(problem, J_cam, J_pose, r, w)
        accepted = False
        while lam < 1e10:
            dc, df = normal.step(lam)
            x_new = _apply(problem, x, dc, df)
            r_new = problem.residuals(x_new).reshape(-1, 2)
            rho_new, w_new = _rho(np.sum(r_new * r_new, axis=1), loss, f_scale)
            cost_new = 0.5 * float(rho_new.sum())
            if np.isfinite(cost_new) and cost_new <= cost:
                accepted = True
                break
            lam *= 10
        if not accepted:
            converged = True  # no step lowers the cost: at a minimum (to precision)
            break
        gain = (cost - cost_new) / max(cost, 1e-300)
        x, r, w, cost = x_new, r_new, w_new, cost_new
        lam = max(lam / 10, 1e-12)
        if gain < ftol:
            converged = True
            break
    covs: list[np.ndarray] = []
    if with_std:
        J_cam, J_pose = problem.jacobian(x, r.ravel())
        normal = _Normal(problem, J_cam, J_pose, r, np.ones(len(r)))
        sigma = 1.4826 * float(np.median(np.abs(r)))  # robust pixel noise (per coordinate)
        cov = normal.camera_covariance() * sigma**2
        for c, sl in enumerate(problem.camera_slices()):
            blk = slice(c * normal.P, c * normal.P + sl.stop - sl.start)
            covs.append(cov[blk, blk])
    return Solution(x, r, covs, it, converged)


def solve_scipy(
    problem: Problem,
    *,
    x0: np.ndarray | None = None,
    loss: Loss = "soft_l1",
    f_scale: float = 1.0,
) -> Solution:
    """The same minimisation with ``scipy.optimize.least_squares`` (sparse Jacobian, LSMR)."""
    from scipy.optimize import least_squares

    def jac(x: np.ndarray) -> object:
        J_cam, J_pose = problem.jacobian(x, problem.residuals(x))
        return problem.sparse_jacobian(J_cam, J_pose)

    result = least_squares(
        problem.residuals,
        problem.x0() if x0 is None else x0,
        jac=jac,
        method="trf",
        loss=loss,
        f_scale=f_scale,
        x_scale="jac",
        tr_solver="lsmr",
        tr_options={"atol": 1e-12, "btol": 1e-12},
        ftol=1e-12,
        xtol=1e-12,
        gtol=1e-12,
    )
    return Solution(
        result.x, result.fun.reshape(-1, 2), [], int(result.njev), bool(result.status > 0)
    )
