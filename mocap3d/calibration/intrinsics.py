"""Intrinsic calibration of one camera from its board views.

Pinhole cameras get OpenCV's full model (fx, fy, cx, cy, k1, k2, p1, p2, k3), fisheye cameras
OpenCV's Kannala–Brandt model (fx, fy, cx, cy, k1 … k4), as the rig says per camera. When the
views cannot support every parameter the fit falls back to fewer, and says why:

- too few views for the model (full pinhole needs 12, see :data:`PINHOLE_LEVELS`);
- a distortion so poorly determined that its 1-σ uncertainty (all terms jointly) at the
  image corners and edges exceeds ``max_std_px`` (the views do not reach the edges, or are
  all alike);
- a radial distortion that folds back inside the image (non-monotonic), which happens when
  high-order terms are fitted to views that do not cover the periphery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from mocap3d.calibration._ba import INTRINSIC_NAMES, Problem
from mocap3d.calibration._lm import solve
from mocap3d.calibration.board import BoardSpec
from mocap3d.calibration.poses import rt_from_T, view_poses
from mocap3d.camera import Camera, LensModel
from mocap3d.errors import InputError

log = logging.getLogger(__name__)

# (name, free distortion indices, minimum number of views)
PINHOLE_LEVELS: tuple[tuple[str, tuple[int, ...], int], ...] = (
    ("k1 k2 p1 p2 k3", (0, 1, 2, 3, 4), 12),
    ("k1 k2 p1 p2", (0, 1, 2, 3), 8),
    ("k1 k2", (0, 1), 5),
    ("k1", (0,), 3),
    ("no distortion", (), 1),
)
FISHEYE_LEVELS: tuple[tuple[str, tuple[int, ...], int], ...] = (
    ("k1 k2 k3 k4", (0, 1, 2, 3), 12),
    ("k1 k2 k3", (0, 1, 2), 8),
    ("k1 k2", (0, 1), 5),
    ("k1", (0,), 3),
    ("no distortion", (), 1),
)


@dataclass(frozen=True)
class IntrinsicsResult:
    """An intrinsic calibration and how it was reached.

    Attributes
    ----------
    camera : Camera
        Intrinsics, with the identity pose.
    parameters : str
        The distortion terms fitted, e.g. ``"k1 k2 p1 p2 k3"``.
    notes : tuple of str
        Why terms were dropped (empty when the full model was fitted).
    rms_px : float
        Root-mean-square reprojection error over the views used.
    n_views : int
        Views used.
    std : dict of str to float
        Standard deviation of every fitted parameter (px for fx…cy, unitless otherwise).
    """

    camera: Camera
    parameters: str
    notes: tuple[str, ...]
    rms_px: float
    n_views: int
    std: dict[str, float]


def _usable(corners: np.ndarray, nx: int, min_corners: int) -> np.ndarray:
    """Views with enough corners spanning at least two rows and two columns."""
    ok = np.zeros(len(corners), bool)
    for v, c in enumerate(corners):
        ids = np.flatnonzero(np.isfinite(c[:, 0]))
        if len(ids) >= min_corners:
            ok[v] = len(np.unique(ids % nx)) >= 2 and len(np.unique(ids // nx)) >= 2
    return ok


def select_views(corners: np.ndarray, size: tuple[int, int], n: int) -> np.ndarray:
    """Indices of up to ``n`` diverse views (farthest-point sampling on position and scale)."""
    if len(corners) <= n:
        return np.arange(len(corners))
    w, h = size
    feats = []
    for c in corners:
        p = c[np.isfinite(c[:, 0])]
        spread = np.sqrt(np.linalg.eigvalsh(np.cov(p.T) + 1e-9 * np.eye(2)))
        feats.append(
            [
                p[:, 0].mean() / w,
                p[:, 1].mean() / h,
                2 * spread[1] / max(w, h),
                2 * spread[0] / max(spread[1], 1e-9) * 0.3,
            ]
        )
    f = np.asarray(feats)
    counts = np.isfinite(corners[:, :, 0]).sum(axis=1)
    chosen = [int(np.argmax(counts))]
    dist = np.linalg.norm(f - f[chosen[0]], axis=1)
    while len(chosen) < n:
        k = int(np.argmax(dist))
        chosen.append(k)
        dist = np.minimum(dist, np.linalg.norm(f - f[k], axis=1))
    return np.sort(np.asarray(chosen))


def _initial_camera(
    name: str, size: tuple[int, int], obj: np.ndarray, corners: np.ndarray, model: LensModel
) -> Camera:
    import cv2

    objp, imgp = [], []
    for c in corners:
        seen = np.isfinite(c[:, 0])
        objp.append(obj[seen].astype(np.float32))
        imgp.append(c[seen].astype(np.float32))
    K = cv2.initCameraMatrix2D(objp, imgp, size)
    if not np.all(np.isfinite(K)) or K[0, 0] <= 0:
        K = np.array(
            [[max(size), 0, (size[0] - 1) / 2], [0, max(size), (size[1] - 1) / 2], [0, 0, 1.0]]
        )
    f = float(np.sqrt(K[0, 0] * K[1, 1]))
    K = np.array([[f, 0, (size[0] - 1) / 2], [0, f, (size[1] - 1) / 2], [0, 0, 1.0]])
    return Camera(name, size, K, np.zeros(5 if model == "pinhole" else 4), model)


def edge_uncertainty_px(cam: Camera, free: list[int], cov: np.ndarray) -> float:
    """1-σ pixel uncertainty of the distortion at the image corners and edge midpoints.

    The rays through those pixels are projected with the intrinsics ``free`` (indices into
    ``[fx, fy, cx, cy, d0, …]``, typically the distortion terms) perturbed; their joint
    covariance ``cov`` gives the spread of the projected pixel. Inf where the model cannot be
    inverted at those pixels.
    """
    from mocap3d.calibration._ba import intrinsic_vector, with_intrinsics

    w, h = cam.size
    pts = np.array(
        [
            [0, 0],
            [w - 1, 0],
            [0, h - 1],
            [w - 1, h - 1],
            [(w - 1) / 2, 0],
            [(w - 1) / 2, h - 1],
            [0, (h - 1) / 2],
            [w - 1, (h - 1) / 2],
        ],
        float,
    )
    xy = cam.undistort_points(pts)
    if not np.all(np.isfinite(xy)) or not np.all(np.isfinite(cov)):
        return np.inf
    v = intrinsic_vector(cam)
    G = np.zeros((len(pts), 2, len(free)))
    for j, idx in enumerate(free):
        step = 1e-6 * max(1.0, abs(v[idx]))
        dv = v.copy()
        dv[idx] += step
        G[:, :, j] = (with_intrinsics(cam, dv).distort_points(xy) - pts) / step
    var = np.einsum("pki,ij,pkj->pk", G, cov, G).sum(axis=1)
    return float(np.sqrt(np.max(var)))


def _monotonic(cam: Camera) -> bool:
    """Whether the radial mapping keeps increasing out to beyond the image corners."""
    w, h = cam.size
    r_px = np.hypot(max(cam.K[0, 2], w - cam.K[0, 2]), max(cam.K[1, 2], h - cam.K[1, 2]))
    r_d = np.linspace(0, 1.05 * r_px / cam.K[0, 0], 200)  # distorted normalised radius
    if cam.model == "fisheye":
        k = np.zeros(4)
        k[: cam.dist.size] = cam.dist[:4]
        theta = np.linspace(0, min(np.pi / 2 - 1e-3, 1.5 * r_d[-1]), 400)
        t2 = theta**2
        td = theta * (1 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3]))))
        return bool(np.all(np.diff(td) > 0) and td[-1] >= r_d[-1])
    k = np.zeros(5)
    k[: min(5, cam.dist.size)] = cam.dist[:5]
    r = np.linspace(0, 3 * r_d[-1], 600)
    rd = r * (1 + k[0] * r**2 + k[1] * r**4 + k[4] * r**6)
    inside = rd <= r_d[-1]
    reach = np.argmin(inside) if not np.all(inside) else len(r)
    return bool(reach < len(r) and np.all(np.diff(rd[: reach + 1]) > 0))


def _fit(
    cam: Camera, obj: np.ndarray, corners: np.ndarray, free_dist: tuple[int, ...], fix_centre: bool
) -> tuple[Camera, float, np.ndarray, np.ndarray, list[int]]:
    """Fit intrinsics and view poses; returns camera, rms, covariance, views used, free."""
    Ts, _ = view_poses(cam, obj, corners)
    good = np.all(np.isfinite(Ts.reshape(len(Ts), -1)), axis=1)
    if good.sum() == 0:
        raise InputError(f"camera {cam.name!r}: no board view gives a pose")
    poses = np.stack([rt_from_T(T) for T in Ts[good]])
    cv, cn = np.nonzero(np.isfinite(corners[good][:, :, 0]))
    uv = corners[good][cv, cn]
    free = [0, 1] + ([] if fix_centre else [2, 3]) + [4 + d for d in free_dist]
    problem = Problem(
        cameras=[cam],
        free_intrinsics=[np.asarray(free)],
        fixed_pose=np.array([True]),
        obj=obj,
        cam=np.zeros(len(uv), np.intp),
        view=cv,
        corner=cn,
        uv=uv,
        poses=poses,
    )
    sol = solve(problem, loss="soft_l1", f_scale=2.0, with_std=True)
    cams, _ = problem.unpack(sol.x)
    out = cams[0]
    rms = float(np.sqrt(np.mean(np.sum(sol.residuals**2, axis=1))))
    return out, rms, sol.camera_cov[0], good, free


def calibrate_intrinsics(
    name: str,
    corners: np.ndarray,
    spec: BoardSpec,
    image_size: tuple[int, int],
    *,
    model: LensModel = "pinhole",
    max_views: int = 40,
    max_std_px: float = 1.0,
) -> IntrinsicsResult:
    """Fit one camera's intrinsics to its board views.

    Parameters
    ----------
    name : str
        Camera name (for messages and the returned camera).
    corners : (n_views, n_corners, 2) ndarray
        Detected corners per view, NaN where missing.
    spec : BoardSpec
    image_size : (int, int)
        Width, height.
    model : {"pinhole", "fisheye"}
    max_views : int
        At most this many diverse views are used (speed; the bundle adjustment later uses all).
    max_std_px : float
        Distortion terms are dropped while the fit's 1-σ uncertainty at the image corners
        and edges exceeds this (px).

    Raises
    ------
    InputError
        No view with enough corners.
    """
    obj = spec.corner_points_mm()
    usable = _usable(corners, spec.squares_x - 1, 6)
    views = corners[usable]
    if len(views) == 0:
        raise InputError(
            f"camera {name!r}: no board view has 6 corners spread over two rows and columns; "
            "film the board closer and more face-on in this camera"
        )
    views = views[select_views(views, image_size, max_views)]
    levels = PINHOLE_LEVELS if model == "pinhole" else FISHEYE_LEVELS
    names = INTRINSIC_NAMES[model]
    notes: list[str] = []
    cam = _initial_camera(name, image_size, obj, views, model)
    fix_centre = len(views) < 3
    if fix_centre:
        notes.append(f"only {len(views)} usable view(s): principal point fixed at the image centre")
    for level, (label, free_dist, min_views) in enumerate(levels):
        if len(views) < min_views:
            if level == 0:
                notes.append(
                    f"{len(views)} usable views, the full {model} model ({label}) needs {min_views}"
                )
            continue
        fitted, rms, cov, _, free = _fit(cam, obj, views, free_dist, fix_centre)
        problems = []
        dist_idx = [j for j, i in enumerate(free) if i >= 4]
        spread = edge_uncertainty_px(
            fitted, [free[j] for j in dist_idx], cov[np.ix_(dist_idx, dist_idx)]
        )
        if free_dist and not spread <= max_std_px:
            problems.append(
                f"the distortion is uncertain by {spread:.2g} px (1σ) at the image edges "
                f"(limit {max_std_px:g} px): the views do not reach the edges or are too alike"
            )
        if free_dist and not _monotonic(fitted):
            problems.append("radial distortion folds back inside the image")
        last = level == len(levels) - 1
        if problems and not last:
            notes.append(f"{label}: not supported by the views — " + "; ".join(problems))
            continue
        if notes:
            log.info("camera %s: fitted %s (%s)", name, label, "; ".join(notes))
        return IntrinsicsResult(
            camera=fitted,
            parameters=label,
            notes=tuple(notes),
            rms_px=rms,
            n_views=len(views),
            std={names[i]: float(np.sqrt(cov[j, j])) for j, i in enumerate(free)},
        )
    raise AssertionError("unreachable: the last level always returns")  # pragma: no cover
