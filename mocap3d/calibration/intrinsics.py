"""Intrinsic calibration of one camera from its board views.

Pinhole cameras get OpenCV's full model (fx, fy, cx, cy, k1, k2, p1, p2, k3), fisheye cameras
OpenCV's Kannala–Brandt model (fx, fy, cx, cy, k1 … k4), as the rig says per camera. When the
views cannot support every parameter the fit falls back to fewer, and says why:

- too few views for the model (full pinhole needs 12, see :data:`PINHOLE_LEVELS`);
- a distortion so poorly determined that its 1-σ uncertainty (all terms jointly) at the
  edge of the image area the views cover exceeds ``max_std_px`` (too few or too similar
  views);
- a radial distortion that folds back inside that area (non-monotonic).

Beyond the area the views cover the model is an extrapolation: the quality report warns
when the views leave much of the image uncovered, or when the model folds back before the
image corners (:attr:`IntrinsicsResult.valid_fraction`).

High-order radial terms (pinhole k3, fisheye k3 and k4) that the views find to be zero are
left out too (Wald test at 99.9 %): they hardly change the fit where the views are but make
the model swing beyond them. That is listed in ``not_significant``, not as a problem.
Tangential terms are kept whenever the views support them: left out while not quite zero,
they bias the principal point (by several pixels on the simulated rigs).
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

# high-order radial terms: left out when the views show them to be zero (see module doc)
_HIGH_ORDER = ("k3", "k4")

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
    valid_fraction : float
        Share of the image radius (centre to corner) where the lens model can be inverted;
        below 1 the model folds back near the image corners, whose pixels then cannot be
        used (their undistortion is NaN).
    not_significant : tuple of str
        Terms left out because the views show them to be zero (their estimate is within the
        noise: Wald test at 99.9 %); not a problem, just a simpler model.
    """

    camera: Camera
    parameters: str
    notes: tuple[str, ...]
    rms_px: float
    n_views: int
    std: dict[str, float]
    valid_fraction: float = 1.0
    not_significant: tuple[str, ...] = ()


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


def distortion_uncertainty_px(
    cam: Camera, free: list[int], cov: np.ndarray, pixels: np.ndarray
) -> float:
    """Largest 1-σ pixel uncertainty of the lens model at ``pixels`` (n, 2).

    The rays through those pixels are projected with the intrinsics ``free`` (indices into
    ``[fx, fy, cx, cy, d0, …]``, typically the distortion terms) perturbed; their joint
    covariance ``cov`` gives the spread of the projected pixel. Inf where the model cannot be
    inverted at those pixels.
    """
    from mocap3d.calibration._ba import intrinsic_vector, with_intrinsics

    pts = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    xy = cam.undistort_points(pts)
    if not np.all(np.isfinite(xy)) or not np.all(np.isfinite(cov)):
        return np.inf
    if not free:
        return 0.0
    v = intrinsic_vector(cam)
    G = np.zeros((len(pts), 2, len(free)))
    for j, idx in enumerate(free):
        step = 1e-6 * max(1.0, abs(v[idx]))
        dv = v.copy()
        dv[idx] += step
        G[:, :, j] = (with_intrinsics(cam, dv).distort_points(xy) - pts) / step
    var = np.einsum("pki,ij,pkj->pk", G, cov, G).sum(axis=1)
    return float(np.sqrt(np.max(var)))


def valid_radius(cam: Camera) -> float:
    """Distorted normalised radius up to which the radial model keeps increasing.

    Beyond it the lens model folds back (two rays map to one pixel) and cannot be inverted;
    inf when it does not fold within 90° of the optical axis.
    """
    if cam.model == "fisheye":
        k = np.zeros(4)
        k[: cam.dist.size] = cam.dist[:4]
        theta = np.linspace(0, np.pi / 2, 2000)
        t2 = theta**2
        rd = theta * (1 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3]))))
    else:
        k = np.zeros(5)
        k[: min(5, cam.dist.size)] = cam.dist[:5]
        r = np.linspace(0, 4.0, 4000)
        rd = r * (1 + k[0] * r**2 + k[1] * r**4 + k[4] * r**6)
    falling = np.flatnonzero(np.diff(rd) <= 0)
    return float(rd[falling[0]]) if falling.size else np.inf


def _radius(cam: Camera, pixels: np.ndarray) -> np.ndarray:
    """Distorted normalised radius of pixels (n, 2)."""
    return np.hypot(
        (pixels[:, 0] - cam.K[0, 2]) / cam.K[0, 0], (pixels[:, 1] - cam.K[1, 2]) / cam.K[1, 1]
    )


def _hull(pixels: np.ndarray) -> np.ndarray:
    from scipy.spatial import ConvexHull, QhullError

    try:
        return pixels[ConvexHull(pixels).vertices]
    except (QhullError, ValueError):
        return pixels


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
    # 1e-9: the bundle adjustment refines these intrinsics with every view anyway
    sol = solve(problem, loss="soft_l1", f_scale=2.0, with_std=True, ftol=1e-9)
    cams, _ = problem.unpack(sol.x)
    out = cams[0]
    rms = float(np.sqrt(np.mean(np.sum(sol.residuals**2, axis=1))))
    return out, rms, sol.camera_cov[0], good, free


def _problems(
    cam: Camera,
    free: list[int],
    cov: np.ndarray,
    region: np.ndarray,
    seen: np.ndarray,
    max_std_px: float,
) -> list[str]:
    """Why the views cannot support this fit (empty if they can)."""
    problems = []
    dist_idx = [j for j, i in enumerate(free) if i >= 4]
    spread = distortion_uncertainty_px(
        cam, [free[j] for j in dist_idx], cov[np.ix_(dist_idx, dist_idx)], region
    )
    if not spread <= max_std_px:
        problems.append(
            f"the distortion is uncertain by {spread:.2g} px (1σ) at the edge of the area "
            f"the views cover (limit {max_std_px:g} px): too few or too similar views"
        )
    if not valid_radius(cam) > 1.02 * float(_radius(cam, seen).max()):
        problems.append("the radial distortion folds back inside the area the views cover")
    return problems


def _wald(cam: Camera, free: list[int], cov: np.ndarray, terms: list[int]) -> float:
    """Wald statistic of ``terms`` (intrinsic indices) being zero."""
    from mocap3d.calibration._ba import intrinsic_vector

    idx = [free.index(t) for t in terms]
    value = intrinsic_vector(cam)[terms]
    try:
        return float(value @ np.linalg.solve(cov[np.ix_(idx, idx)], value))
    except np.linalg.LinAlgError:
        return 0.0


def _chi2_limit(dof: int) -> float:
    """99.9 % quantile of χ²: a term is kept only if the views say it is not zero."""
    from scipy.stats import chi2

    return float(chi2.ppf(0.999, dof))


def _drop(cam: Camera, keep: tuple[int, ...]) -> Camera:
    """The same camera with the distortion terms not in ``keep`` set to zero."""
    dist = np.zeros(cam.dist.size)
    for d in keep:
        dist[d] = cam.dist[d]
    return cam.replace(dist=dist)


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
        Distortion terms are dropped while the fit's 1-σ uncertainty at the edge of the area
        the views cover exceeds this (px).

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
    seen = views[np.isfinite(views[..., 0])]
    region = _hull(seen)
    fix_centre = len(views) < 3
    if fix_centre:
        notes.append(f"only {len(views)} usable view(s): principal point fixed at the image centre")
    dropped: list[str] = []
    start = cam
    for level, (label, free_dist, min_views) in enumerate(levels):
        if len(views) < min_views:
            if level == 0:
                notes.append(
                    f"{len(views)} usable views, the full {model} model ({label}) needs {min_views}"
                )
            continue
        fitted, rms, cov, _, free = _fit(start, obj, views, free_dist, fix_centre)
        last = level == len(levels) - 1
        problems = _problems(fitted, free, cov, region, seen, max_std_px) if free_dist else []
        if problems and not last:
            notes.append(f"{label}: not supported by the views — " + "; ".join(problems))
            start = _drop(fitted, levels[level + 1][1])
            continue
        new = [4 + d for d in free_dist if not last and d not in levels[level + 1][1]]
        if new and all(names[i] in _HIGH_ORDER for i in new):
            stat = _wald(fitted, free, cov, new)
            if stat < _chi2_limit(len(new)):
                terms = " ".join(names[i] for i in new)
                dropped.append(f"{terms} (Wald χ² {stat:.3g} < {_chi2_limit(len(new)):.3g})")
                start = _drop(fitted, levels[level + 1][1])
                continue
        if notes:
            log.info("camera %s: fitted %s (%s)", name, label, "; ".join(notes))
        w, h = image_size
        corners_px = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], float)
        reach = valid_radius(fitted)
        return IntrinsicsResult(
            camera=fitted,
            parameters=label,
            notes=tuple(notes),
            rms_px=rms,
            n_views=len(views),
            std={names[i]: float(np.sqrt(cov[j, j])) for j, i in enumerate(free)},
            valid_fraction=float(min(1.0, reach / _radius(fitted, corners_px).max())),
            not_significant=tuple(dropped),
        )
    raise AssertionError("unreachable: the last level always returns")  # pragma: no cover
