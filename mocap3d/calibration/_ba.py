"""The reprojection problem shared by intrinsic calibration and bundle adjustment.

Unknowns: per camera its pose (world → camera, Rodrigues + translation, mm) and a chosen
subset of its intrinsics ``[fx, fy, cx, cy, d0, d1, …]``; per board view the board → world
pose. Residuals: projected minus observed corner pixels, two per observation. The Jacobian
is sparse (an observation depends on one camera and one board pose only): it is computed by
finite differences grouped by that pattern (:meth:`Problem.jacobian`) and solved by
:mod:`mocap3d.calibration._lm`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mocap3d.camera import Camera, _distort_fisheye, _distort_pinhole

_BEHIND = 1e3  # residual (px) of a point that falls behind a camera during the search


def rodrigues(rvecs: np.ndarray) -> np.ndarray:
    """Rotation vectors (n, 3) → rotation matrices (n, 3, 3), vectorised."""
    r = np.asarray(rvecs, dtype=np.float64).reshape(-1, 3)
    theta = np.linalg.norm(r, axis=1)
    small = theta < 1e-12
    k = r / np.where(small, 1.0, theta)[:, None]
    K = np.zeros((len(r), 3, 3))
    K[:, 0, 1], K[:, 0, 2] = -k[:, 2], k[:, 1]
    K[:, 1, 0], K[:, 1, 2] = k[:, 2], -k[:, 0]
    K[:, 2, 0], K[:, 2, 1] = -k[:, 1], k[:, 0]
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    R = np.eye(3)[None] + s * K + (1 - c) * (K @ K)
    # first order for tiny angles: R ≈ I + [r]x
    if np.any(small):
        rs = r[small]
        Ks = np.zeros((len(rs), 3, 3))
        Ks[:, 0, 1], Ks[:, 0, 2] = -rs[:, 2], rs[:, 1]
        Ks[:, 1, 0], Ks[:, 1, 2] = rs[:, 2], -rs[:, 0]
        Ks[:, 2, 0], Ks[:, 2, 1] = -rs[:, 1], rs[:, 0]
        R[small] = np.eye(3)[None] + Ks
    return R


def intrinsic_vector(cam: Camera) -> np.ndarray:
    """``[fx, fy, cx, cy, d0 … d(n-1)]`` (n = 5 pinhole, 4 fisheye)."""
    n = 5 if cam.model == "pinhole" else 4
    d = np.zeros(n)
    d[: min(n, cam.dist.size)] = cam.dist[:n]
    return np.concatenate([[cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2]], d])


def with_intrinsics(cam: Camera, v: np.ndarray) -> Camera:
    K = np.array([[v[0], 0.0, v[2]], [0.0, v[1], v[3]], [0.0, 0.0, 1.0]])
    return cam.replace(K=K, dist=np.array(v[4:], dtype=np.float64))


INTRINSIC_NAMES = {
    "pinhole": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3"),
    "fisheye": ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4"),
}


@dataclass
class Problem:
    """A reprojection problem.

    Attributes
    ----------
    cameras : list of Camera
        Starting values (pose and intrinsics).
    free_intrinsics : list of (k,) int ndarray
        Per camera, indices into :func:`intrinsic_vector` that are optimised.
    fixed_pose : (n_cameras,) bool ndarray
        Cameras whose pose is held (the gauge: at least one, unless poses are all fixed).
    obj : (n_corners, 3) ndarray
        Board corners in the board frame, mm.
    cam, view, corner : (n_obs,) int ndarrays
        Which camera, board view and corner each observation is.
    uv : (n_obs, 2) ndarray
        Observed pixels.
    poses : (n_views, 6) ndarray
        Starting board → world poses (rvec, t).
    """

    cameras: list[Camera]
    free_intrinsics: list[np.ndarray]
    fixed_pose: np.ndarray
    obj: np.ndarray
    cam: np.ndarray
    view: np.ndarray
    corner: np.ndarray
    uv: np.ndarray
    poses: np.ndarray
    _offsets: list[int] = field(default_factory=list, init=False)
    _last_poses: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._offsets = [0]
        for c in range(len(self.cameras)):
            n = (0 if self.fixed_pose[c] else 6) + len(self.free_intrinsics[c])
            self._offsets.append(self._offsets[-1] + n)
        self._sel = [np.flatnonzero(self.cam == c) for c in range(len(self.cameras))]
        self._obj = self.obj[self.corner]
        self._base = [(cam.R.copy(), cam.t.copy(), intrinsic_vector(cam)) for cam in self.cameras]

    @property
    def n_camera_params(self) -> int:
        return self._offsets[-1]

    @property
    def n_params(self) -> int:
        return self.n_camera_params + 6 * len(self.poses)

    def x0(self) -> np.ndarray:
        parts = []
        for c, cam in enumerate(self.cameras):
            if not self.fixed_pose[c]:
                parts += [cam.rvec, cam.t]
            parts.append(intrinsic_vector(cam)[self.free_intrinsics[c]])
        parts.append(self.poses.ravel())
        return np.concatenate(parts)

    def _camera_arrays(self, x: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rotation, translation and intrinsic vector of camera ``c`` at ``x``."""
        R, t, v = self._base[c]
        p = x[self._offsets[c] : self._offsets[c + 1]]
        if not self.fixed_pose[c]:
            R, t = rodrigues(p[:3])[0], p[3:6]
            p = p[6:]
        if len(self.free_intrinsics[c]):
            v = v.copy()
            v[self.free_intrinsics[c]] = p
        return R, t, v

    def unpack(self, x: np.ndarray) -> tuple[list[Camera], np.ndarray]:
        """Cameras and board poses (n_views, 6) of a parameter vector."""
        cams = []
        for c, cam in enumerate(self.cameras):
            R, t, v = self._camera_arrays(x, c)
            cams.append(with_intrinsics(cam.replace(R=R, t=np.array(t)), v))
        return cams, x[self.n_camera_params :].reshape(-1, 6)

    def world_points(self, poses: np.ndarray) -> np.ndarray:
        """World position (n_obs, 3) of every observed corner."""
        R = rodrigues(poses[:, :3])[self.view]
        o = self._obj
        return (
            R[:, :, 0] * o[:, 0:1]
            + R[:, :, 1] * o[:, 1:2]
            + R[:, :, 2] * o[:, 2:3]
            + poses[self.view, 3:]
        )

    def project(self, x: np.ndarray) -> np.ndarray:
        """Predicted pixels (n_obs, 2); NaN behind a camera.

        The same model as :meth:`mocap3d.camera.Camera.project` (its distortion functions),
        without building a Camera per evaluation.
        """
        poses = x[self.n_camera_params :]
        if self._last_poses is not None and np.array_equal(poses, self._last_poses[0]):
            X = self._last_poses[1]  # only camera parameters moved (finite differences)
        else:
            X = self.world_points(poses.reshape(-1, 6))
            self._last_poses = (poses.copy(), X)
        out = np.empty((len(X), 2))
        for c, cam in enumerate(self.cameras):
            sel = self._sel[c]
            R, t, v = self._camera_arrays(x, c)
            pc = X[sel] @ R.T + t
            z = pc[:, 2]
            with np.errstate(divide="ignore", invalid="ignore"):
                xn = np.where(z > 0, pc[:, 0] / z, np.nan)
                yn = np.where(z > 0, pc[:, 1] / z, np.nan)
            if cam.model == "pinhole":
                k = np.zeros(8)
                k[:5] = v[4:9]
                xd, yd = _distort_pinhole(xn, yn, k)
            else:
                xd, yd = _distort_fisheye(xn, yn, v[4:8])
            out[sel, 0] = v[0] * xd + v[2]
            out[sel, 1] = v[1] * yd + v[3]
        return out

    def residuals(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            r = self.project(x) - self.uv
        r[~np.isfinite(r)] = _BEHIND
        return r.ravel()

    def jacobian(self, x: np.ndarray, r0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forward-difference Jacobian in blocks, with 6 + max(camera params) evaluations.

        Columns that never share an observation are perturbed together: component k of every
        board pose at once, parameter j of every camera at once.

        Returns
        -------
        J_cam : (n_obs, 2, P) ndarray
            Derivatives of each observation w.r.t. its camera's parameters (P = the most any
            camera has; unused columns are zero).
        J_pose : (n_obs, 2, 6) ndarray
            Derivatives w.r.t. its board pose.
        """
        eps = 1.4901161193847656e-08
        r0 = r0.reshape(-1, 2)
        counts = np.diff(self._offsets)
        P = int(counts.max()) if len(counts) else 0
        J_cam = np.zeros((len(self.uv), 2, P))
        J_pose = np.zeros((len(self.uv), 2, 6))
        for j in range(P):
            h = np.zeros(len(self.cameras))
            dx = np.zeros_like(x)
            for c in np.flatnonzero(counts > j):
                i = self._offsets[c] + j
                h[c] = eps * max(1.0, abs(x[i]))
                dx[i] = h[c]
            hc = h[self.cam]
            used = hc > 0
            diff = self.residuals(x + dx).reshape(-1, 2) - r0
            J_cam[used, :, j] = diff[used] / hc[used, None]
        nc = self.n_camera_params
        for k in range(6):
            idx = nc + 6 * np.arange(len(self.poses)) + k
            h = eps * np.maximum(1.0, np.abs(x[idx]))
            dx = np.zeros_like(x)
            dx[idx] = h
            diff = self.residuals(x + dx).reshape(-1, 2) - r0
            J_pose[:, :, k] = diff / h[self.view][:, None]
        return J_cam, J_pose

    def sparse_jacobian(self, J_cam: np.ndarray, J_pose: np.ndarray) -> object:
        """The blocks of :meth:`jacobian` as one scipy CSR matrix (2 n_obs × n_params)."""
        from scipy.sparse import coo_matrix

        counts = np.diff(self._offsets)
        rows, cols, vals = [], [], []
        obs = np.arange(len(self.uv))
        for j in range(J_cam.shape[2]):
            sel = counts[self.cam] > j
            col = np.asarray(self._offsets)[self.cam[sel]] + j
            for k in (0, 1):
                rows.append(2 * obs[sel] + k)
                cols.append(col)
                vals.append(J_cam[sel, k, j])
        for j in range(6):
            col = self.n_camera_params + 6 * self.view + j
            for k in (0, 1):
                rows.append(2 * obs + k)
                cols.append(col)
                vals.append(J_pose[:, k, j])
        return coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(2 * len(self.uv), self.n_params),
        ).tocsr()

    def camera_slices(self) -> list[slice]:
        """Slice of every camera's block in the parameter vector."""
        o = self._offsets
        return [slice(o[c], o[c + 1]) for c in range(len(self.cameras))]
