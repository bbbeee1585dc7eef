"""Cameras as immutable values: intrinsics, distortion, pose; projection and (un)distortion.

Conventions (OpenCV's):

- ``R`` (3, 3) and ``t`` (3,) map world to camera coordinates: ``X_cam = R @ X_world + t``;
  world units are millimetres.
- Pixel coordinates have their origin at the centre of the top-left pixel, x to the right,
  y down.
- ``pinhole`` distortion is OpenCV's rational model ``(k1, k2, p1, p2[, k3[, k4, k5, k6]])``;
  ``fisheye`` is OpenCV's Kannala–Brandt model ``(k1, k2, k3, k4)``.
- "Normalised" coordinates are undistorted points on the ``z = 1`` plane of the camera.

Every function works on any leading shape: points ``(..., 3)`` give pixels ``(..., 2)``.
NaN in gives NaN out; points at or behind the camera plane (z ≤ 0) project to NaN.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mocap3d.errors import InputError

LensModel = Literal["pinhole", "fisheye"]
_N_PINHOLE = 8  # k1 k2 p1 p2 k3 k4 k5 k6
_N_FISHEYE = 4  # k1 k2 k3 k4
_UNDISTORT_TOL_PX = 1e-3
# Undistortion stops iterating once every point's step is below these (normalised units):
# OpenCV's fixed-point iteration until steps < _START_TOL, then Newton until steps <
# _NEWTON_TOL; Newton converges quadratically: after a step s the error left is ~κ s² with
# κ = |f''/2f'| < 1 for real lenses, i.e. < 1e-12 (~1e-9 px).
_START_TOL = 1e-4
_NEWTON_TOL = 1e-6


def _readonly(a: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    arr = np.array(a, dtype=np.float64)
    if arr.shape != shape:
        raise InputError(f"{what} must have shape {shape}, found {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what} contains NaN or infinite values: {arr.tolist()}")
    arr.setflags(write=False)
    return arr


def rodrigues_to_matrix(rvec: Any) -> np.ndarray:
    """Rotation vector (3,) (axis · angle, radians) → rotation matrix (3, 3)."""
    import cv2

    return np.asarray(cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3))[0])


def matrix_to_rodrigues(R: Any) -> np.ndarray:
    """Rotation matrix (3, 3) → rotation vector (3,)."""
    import cv2

    return np.asarray(cv2.Rodrigues(np.asarray(R, dtype=np.float64))[0]).reshape(3)


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera.

    Parameters
    ----------
    name : str
        Unique name in its group (the rig's camera name).
    size : (int, int)
        Image width and height in pixels.
    K : (3, 3) array_like
        Camera matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` in pixels (no skew).
    dist : array_like
        Distortion coefficients; pinhole: up to 8 (k1 k2 p1 p2 k3 k4 k5 k6), fisheye: 4.
        Shorter vectors are padded with zeros; :attr:`dist` keeps the given length.
    model : {"pinhole", "fisheye"}
    R : (3, 3) array_like
        World → camera rotation.
    t : (3,) array_like
        World → camera translation, mm.
    """

    name: str
    size: tuple[int, int]
    K: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    model: LensModel = "pinhole"
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        where = f"camera {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"camera name must be a non-empty string, found {self.name!r}")
        if self.model not in ("pinhole", "fisheye"):
            raise InputError(f"{where}: model must be 'pinhole' or 'fisheye', found {self.model!r}")
        size = tuple(int(v) for v in np.asarray(self.size).ravel())
        if len(size) != 2 or min(size) <= 0:
            raise InputError(f"{where}: size must be (width, height) > 0, found {self.size!r}")
        K = _readonly(self.K, (3, 3), f"{where}: K")
        if K[0, 0] <= 0 or K[1, 1] <= 0 or K[0, 1] != 0 or K[1, 0] != 0:
            raise InputError(
                f"{where}: K must be [[fx,0,cx],[0,fy,cy],[0,0,1]] with fx, fy > 0;"
                f" found {K.tolist()}"
            )
        if not np.allclose(K[2], [0, 0, 1]):
            raise InputError(f"{where}: last row of K must be [0, 0, 1], found {K[2].tolist()}")
        dist = np.array(self.dist, dtype=np.float64).ravel()
        limit = _N_PINHOLE if self.model == "pinhole" else _N_FISHEYE
        if dist.size > limit or not np.all(np.isfinite(dist)):
            raise InputError(
                f"{where}: a {self.model} camera takes at most {limit} finite "
                f"distortion coefficients, found {dist.tolist()}"
            )
        dist.setflags(write=False)
        R = _readonly(self.R, (3, 3), f"{where}: R")
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise InputError(f"{where}: R is not a rotation matrix (orthonormal, det +1)")
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", _readonly(np.ravel(self.t), (3,), f"{where}: t"))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_rvec(
        cls,
        name: str,
        size: tuple[int, int],
        K: Any,
        dist: Any,
        rvec: Any,
        tvec: Any,
        model: LensModel = "pinhole",
    ) -> Camera:
        """Build a camera from a Rodrigues rotation vector (as OpenCV and Anipose store it)."""
        return cls(name, size, K, dist, model, rodrigues_to_matrix(rvec), np.ravel(tvec))

    def replace(self, **changes: Any) -> Camera:
        """A copy with some fields changed (``Camera`` is immutable)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ properties
    @property
    def rvec(self) -> np.ndarray:
        """Rotation as a Rodrigues vector (3,)."""
        return matrix_to_rodrigues(self.R)

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates (3,), mm."""
        return -self.R.T @ self.t

    @property
    def projection_matrix(self) -> np.ndarray:
        """``K [R | t]`` (3, 4): projects world points to *undistorted* pixels."""
        return self.K @ np.column_stack([self.R, self.t])

    @property
    def extrinsics(self) -> np.ndarray:
        """``[R | t]`` (3, 4): world → camera."""
        return np.column_stack([self.R, self.t])

    def _coeffs(self) -> np.ndarray:
        n = _N_PINHOLE if self.model == "pinhole" else _N_FISHEYE
        out = np.zeros(n)
        out[: self.dist.size] = self.dist
        return out

    # ------------------------------------------------------------------ geometry
    def world_to_camera(self, points: Any) -> np.ndarray:
        """World points (..., 3) mm → camera coordinates (..., 3) mm."""
        p = np.asarray(points, dtype=np.float64)
        return p @ self.R.T + self.t

    def project(self, points: Any) -> np.ndarray:
        """World points (..., 3) mm → distorted pixels (..., 2).

        Agrees with ``cv2.projectPoints`` / ``cv2.fisheye.projectPoints`` to 1e-6 px; points
        with z ≤ 0 in camera coordinates (at or behind the camera) give NaN.
        """
        pc = self.world_to_camera(points)
        z = pc[..., 2:3]
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = np.where(z > 0, pc[..., :2] / z, np.nan)
        return self.distort_points(xy)

    def distort_points(self, xy: Any) -> np.ndarray:
        """Normalised undistorted coordinates (..., 2) → distorted pixels (..., 2)."""
        xy = np.asarray(xy, dtype=np.float64)
        if xy.shape[-1:] != (2,):
            raise InputError(f"points must have shape (..., 2), found {xy.shape}")
        x, y = xy[..., 0], xy[..., 1]
        if self.model == "pinhole":
            xd, yd = _distort_pinhole(x, y, self._coeffs())
        else:
            xd, yd = _distort_fisheye(x, y, self._coeffs())
        K = self.K
        return np.stack([K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]], axis=-1)

    def undistort_points(self, uv: Any) -> np.ndarray:
        """Distorted pixels (..., 2) → normalised undistorted coordinates (..., 2).

        Solved by Newton's method to far below 1e-3 px (OpenCV's default ``undistortPoints``
        can be off by tenths of a pixel under strong distortion). Pixels outside the region
        where the distortion model can be inverted give NaN.
        """
        uv = np.asarray(uv, dtype=np.float64)
        if uv.shape[-1:] != (2,):
            raise InputError(f"points must have shape (..., 2), found {uv.shape}")
        K = self.K
        xd = (uv[..., 0] - K[0, 2]) / K[0, 0]
        yd = (uv[..., 1] - K[1, 2]) / K[1, 1]
        coeffs = self._coeffs()
        if self.model == "pinhole":
            x, y, converged = _undistort_pinhole(xd, yd, coeffs)
        else:
            x, y, converged = _undistort_fisheye(xd, yd, coeffs)
        out = np.stack([x, y], axis=-1)
        if converged:  # every Newton step ended below _NEWTON_TOL: the residual is ~0
            out[~(np.isfinite(x) & np.isfinite(y))] = np.nan
            return out
        distort = _distort_pinhole if self.model == "pinhole" else _distort_fisheye
        rx, ry = distort(x, y, coeffs)
        err = np.hypot((rx - xd) * K[0, 0], (ry - yd) * K[1, 1])
        with np.errstate(invalid="ignore"):
            bad = ~(err <= _UNDISTORT_TOL_PX)
        out[bad] = np.nan
        return out

    def undistort_pixels(self, uv: Any) -> np.ndarray:
        """Distorted pixels (..., 2) → pixels of the same camera without distortion (..., 2)."""
        xy = self.undistort_points(uv)
        K = self.K
        return np.stack([K[0, 0] * xy[..., 0] + K[0, 2], K[1, 1] * xy[..., 1] + K[1, 2]], axis=-1)

    def in_image(self, uv: Any) -> np.ndarray:
        """Whether pixels (..., 2) fall inside the image; NaN gives False."""
        uv = np.asarray(uv, dtype=np.float64)
        w, h = self.size
        with np.errstate(invalid="ignore"):
            return (
                (uv[..., 0] >= -0.5)
                & (uv[..., 0] <= w - 0.5)
                & (uv[..., 1] >= -0.5)
                & (uv[..., 1] <= h - 0.5)
            )

    # ------------------------------------------------------------------ comparison
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Camera):
            return NotImplemented
        return (
            self.name == other.name
            and self.size == other.size
            and self.model == other.model
            and np.array_equal(self.K, other.K)
            and np.array_equal(self._coeffs(), other._coeffs())
            and np.array_equal(self.R, other.R)
            and np.array_equal(self.t, other.t)
        )

    __hash__ = None  # type: ignore[assignment]

    def allclose(self, other: Camera, *, rtol: float = 1e-9, atol: float = 1e-9) -> bool:
        """Equal names, sizes and models, parameters equal within tolerances."""
        return (
            self.name == other.name
            and self.size == other.size
            and self.model == other.model
            and all(
                np.allclose(a, b, rtol=rtol, atol=atol)
                for a, b in [
                    (self.K, other.K),
                    (self._coeffs(), other._coeffs()),
                    (self.R, other.R),
                    (self.t, other.t),
                ]
            )
        )

    def __repr__(self) -> str:
        fx, fy = self.K[0, 0], self.K[1, 1]
        c = self.center
        return (
            f"Camera({self.name!r}, {self.model}, {self.size[0]}x{self.size[1]}, "
            f"f=({fx:.1f}, {fy:.1f}), centre=({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) mm)"
        )


# ---------------------------------------------------------------------- distortion models


def _distort_pinhole(x: np.ndarray, y: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k1, k2, p1, p2, k3, k4, k5, k6 = k
    r2 = x * x + y * y
    radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return xd, yd


def _undistort_pinhole(
    xd: np.ndarray, yd: np.ndarray, k: np.ndarray, *, fixed_point: int = 8, newton: int = 12
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Normalised distorted → undistorted coordinates; also whether Newton converged for all."""
    k1, k2, p1, p2, k3, k4, k5, k6 = k
    x, y = xd.copy(), yd.copy()
    with np.errstate(all="ignore"):
        for _ in range(fixed_point):  # OpenCV's iteration: a good start for Newton
            r2 = x * x + y * y
            radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
            dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
            dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
            x_new, y_new = (xd - dx) / radial, (yd - dy) / radial
            settled = not _moving(x_new - x, y_new - y, _START_TOL)
            x, y = x_new, y_new
            if settled:
                break
        for _ in range(newton):
            r2 = x * x + y * y
            a = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
            b = 1 + r2 * (k4 + r2 * (k5 + r2 * k6))
            da = k1 + r2 * (2 * k2 + 3 * k3 * r2)
            db = k4 + r2 * (2 * k5 + 3 * k6 * r2)
            rad = a / b
            drad = (da * b - a * db) / (b * b)
            fx = x * rad + 2 * p1 * x * y + p2 * (r2 + 2 * x * x) - xd
            fy = y * rad + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y - yd
            j11 = rad + 2 * x * x * drad + 2 * p1 * y + 6 * p2 * x
            j12 = 2 * x * y * drad + 2 * p1 * x + 2 * p2 * y
            j22 = rad + 2 * y * y * drad + 6 * p1 * y + 2 * p2 * x
            det = j11 * j22 - j12 * j12
            step_x = (j22 * fx - j12 * fy) / det
            step_y = (j11 * fy - j12 * fx) / det
            x = x - step_x
            y = y - step_y
            if not _moving(step_x, step_y, _NEWTON_TOL):
                return x, y, True
    return x, y, False


def _moving(dx: np.ndarray, dy: np.ndarray, tol: float) -> bool:
    """Whether any step is larger than ``tol``; NaN steps (uninvertible points) count as done.

    Lets the iterations stop as soon as every point has converged, instead of always running
    the maximum number of iterations.
    """
    with np.errstate(invalid="ignore"):
        return bool((np.abs(dx) > tol).any() or (np.abs(dy) > tol).any())


def _distort_fisheye(x: np.ndarray, y: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.hypot(x, y)
    theta = np.arctan(r)
    t2 = theta * theta
    theta_d = theta * (1 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3]))))
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(r > 1e-8, theta_d / r, 1.0)
    return x * scale, y * scale


def _undistort_fisheye(
    xd: np.ndarray, yd: np.ndarray, k: np.ndarray, *, newton: int = 20
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Normalised distorted → undistorted coordinates; also whether Newton converged for all."""
    theta_d = np.hypot(xd, yd)
    theta = theta_d.copy()
    converged = False
    with np.errstate(all="ignore"):
        for _ in range(newton):
            t2 = theta * theta
            f = theta * (1 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3])))) - theta_d
            df = 1 + t2 * (3 * k[0] + t2 * (5 * k[1] + t2 * (7 * k[2] + t2 * 9 * k[3])))
            step = f / df
            theta = theta - step
            if not _moving(step, step, _NEWTON_TOL):
                converged = True
                break
        theta = np.where((theta >= 0) & (theta < np.pi / 2), theta, np.nan)
        scale = np.where(theta_d > 1e-8, np.tan(theta) / theta_d, 1.0)
    return xd * scale, yd * scale, converged


# ---------------------------------------------------------------------------- groups


@dataclass(frozen=True, eq=False)
class CameraGroup:
    """An ordered set of cameras with unique names, plus free-form metadata.

    Camera order is the calibration file's order (``cam_0``, ``cam_1`` … numerically, so 11+
    cameras keep their order) and defines the ``view`` axis everywhere.
    """

    cameras: tuple[Camera, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cams = tuple(self.cameras)
        if not cams or not all(isinstance(c, Camera) for c in cams):
            raise InputError("a CameraGroup needs at least one Camera")
        names = [c.name for c in cams]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InputError(f"camera names must be unique; repeated: {dupes}")
        object.__setattr__(self, "cameras", cams)
        object.__setattr__(self, "metadata", types.MappingProxyType(dict(self.metadata)))

    # ------------------------------------------------------------------ access
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def __len__(self) -> int:
        return len(self.cameras)

    def __iter__(self) -> Iterator[Camera]:
        return iter(self.cameras)

    def __getitem__(self, key: int | str) -> Camera:
        if isinstance(key, str):
            return self.cameras[self.index(key)]
        return self.cameras[key]

    def index(self, name: str) -> int:
        """Position of the camera called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise InputError(
                f"camera {name!r} is not in the calibration; its cameras are {self.names}"
            ) from None

    def subset(self, names: Sequence[str]) -> CameraGroup:
        """The cameras called ``names``, in that order."""
        return CameraGroup(tuple(self[n] for n in names), self.metadata)

    def replace(self, **changes: Any) -> CameraGroup:
        return dataclasses.replace(self, **changes)

    def with_camera(self, camera: Camera) -> CameraGroup:
        """A copy with the camera of the same name replaced by ``camera``."""
        i = self.index(camera.name)
        cams = list(self.cameras)
        cams[i] = camera
        return self.replace(cameras=tuple(cams))

    # ------------------------------------------------------------------ geometry
    def project(self, points: Any) -> np.ndarray:
        """World points (..., 3) mm → pixels (n_cameras, ..., 2), with distortion."""
        p = np.asarray(points, dtype=np.float64)
        return np.stack([c.project(p) for c in self.cameras])

    def undistort_points(self, uv: Any) -> np.ndarray:
        """Pixels (n_cameras, ..., 2) → normalised coordinates (n_cameras, ..., 2)."""
        uv = np.asarray(uv, dtype=np.float64)
        if uv.shape[:1] != (len(self),):
            raise InputError(
                f"expected pixels for {len(self)} cameras on the first axis, found shape {uv.shape}"
            )
        return np.stack([c.undistort_points(p) for c, p in zip(self.cameras, uv, strict=True)])

    @property
    def extrinsics(self) -> np.ndarray:
        """``[R | t]`` of every camera, (n_cameras, 3, 4)."""
        return np.stack([c.extrinsics for c in self.cameras])

    @property
    def centers(self) -> np.ndarray:
        """Camera centres (n_cameras, 3), mm."""
        return np.stack([c.center for c in self.cameras])

    # ------------------------------------------------------------------ files
    @classmethod
    def load(cls, path: str | Path) -> CameraGroup:
        """Read an Anipose ``calibration.toml``."""
        from mocap3d.io.anipose import read_calibration

        return read_calibration(path)

    def save(self, path: str | Path) -> None:
        """Write an Anipose ``calibration.toml`` (atomically)."""
        from mocap3d.io.anipose import write_calibration

        write_calibration(self, path)

    # ------------------------------------------------------------------ comparison
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CameraGroup):
            return NotImplemented
        return self.cameras == other.cameras and dict(self.metadata) == dict(other.metadata)

    __hash__ = None  # type: ignore[assignment]

    def allclose(self, other: CameraGroup, *, rtol: float = 1e-9, atol: float = 1e-9) -> bool:
        return len(self) == len(other) and all(
            a.allclose(b, rtol=rtol, atol=atol) for a, b in zip(self, other, strict=True)
        )

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(c) for c in self.cameras)
        return f"CameraGroup(\n  {inner}\n)"
