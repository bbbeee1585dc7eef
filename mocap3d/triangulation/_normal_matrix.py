"""The normal matrix of the spatiotemporal problem, and how its systems are solved.

Variables are the 3D points of a chunk, (frames T, points P, xyz). The Gauss–Newton normal
matrix ``H`` is the sum of 3×3 blocks per frame and point (reprojection, bone and prior terms),
``w_smooth DᵀD`` (second differences along frames, per point and axis) and bone cross terms
coupling the two ends of each bone in the same frame. It is never assembled: products ``H v``
cost a few array operations, and systems are solved by conjugate gradients preconditioned with
``H`` minus the bone cross terms — banded per point (bandwidth 6 in (point, frame, axis)
order) and factorised by LAPACK in time linear in ``T × P``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve_banded, cholesky_banded

CG_MAX_ITER = 200
PRIOR_SD_MM = 1e4  # ε = 1/σ: keeps unobserved stretches well-posed, negligible elsewhere


@dataclass
class NormalMatrix:
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
        out += self.w_smooth * smoothness_gradient(v) + damping * v
        if len(self.bone_a):
            kb = np.einsum("tbde,tbe->tbd", self.bone_k, v[:, self.bone_b])
            ka = np.einsum("tbde,tbe->tbd", self.bone_k, v[:, self.bone_a])
            out -= to_points(kb, self.bone_a, out.shape[1])
            out -= to_points(ka, self.bone_b, out.shape[1])
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
        for _ in range(CG_MAX_ITER):
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


def to_points(values: np.ndarray, points: np.ndarray, n_points: int) -> np.ndarray:
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


def second_difference(X: np.ndarray) -> np.ndarray:
    """``X[t-1] − 2X[t] + X[t+1]`` along axis 0, (T − 2, ...)."""
    return X[:-2] - 2 * X[1:-1] + X[2:]


def smoothness_gradient(X: np.ndarray) -> np.ndarray:
    """``DᵀD X`` along frames for (T, P, 3)."""
    g = np.zeros_like(X)
    if len(X) >= 3:
        a = second_difference(X)
        g[:-2] += a
        g[1:-1] -= 2 * a
        g[2:] += a
    return g
