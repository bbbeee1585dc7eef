"""Ray casting of ellipsoids through a distorted camera: images, depth order and visibility.

Every (super-sampled) pixel's viewing ray is found once per camera by undistorting its pixel
centre with the camera model (:meth:`Camera.undistort_points`), so lens distortion (pinhole or
fisheye) is exact. Ellipsoids are intersected analytically with each ray; a depth buffer keeps
the nearest surface. Shading is Lambertian (ambient + one light) times a fur texture fixed to
the body. The supersampled image is averaged down to the camera's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap3d.camera import Camera
from mocap3d.simulate.scene import FEATURE_RADIUS, MARKER_RADIUS, Arena, Primitives

LIGHT = np.array([0.35, 0.45, 1.0]) / np.linalg.norm([0.35, 0.45, 1.0])
AMBIENT, DIFFUSE = 0.40, 0.60


@dataclass(frozen=True)
class CameraRays:
    """Viewing rays of every super-sampled pixel of a camera and the static background.

    ``x, y`` (H·ss, W·ss) float32: normalised undistorted coordinates (ray = (x, y, 1) in
    camera coordinates); NaN where the lens model has no ray. ``background_ss`` (H·ss, W·ss)
    and ``background`` (H, W): grey levels 0..1.
    """

    camera: Camera
    ss: int
    x: np.ndarray
    y: np.ndarray
    background_ss: np.ndarray
    background: np.ndarray


def camera_rays(camera: Camera, *, supersample: int = 2, arena: Arena = Arena()) -> CameraRays:
    """Rays and background of ``camera`` at ``supersample`` × its resolution."""
    ss = int(supersample)
    w, h = camera.size
    # centre of sub-pixel j of pixel u: u - 0.5 + (j + 0.5) / ss
    us = (np.arange(w * ss) + 0.5) / ss - 0.5
    vs = (np.arange(h * ss) + 0.5) / ss - 0.5
    xy = _undistort_grid(camera, us, vs)
    x = xy[..., 0].astype(np.float32)
    y = xy[..., 1].astype(np.float32)
    # background: the floor z = 0 seen along each ray
    d_world = np.stack([xy[..., 0], xy[..., 1], np.ones_like(xy[..., 0])], axis=-1) @ camera.R
    c = camera.center
    with np.errstate(invalid="ignore", divide="ignore"):
        s = -c[2] / d_world[..., 2]
        hit = np.isfinite(s) & (s > 0)
        fx = np.where(hit, c[0] + s * d_world[..., 0], 1e6)
        fy = np.where(hit, c[1] + s * d_world[..., 1], 1e6)
    bg = arena.shade(fx, fy)
    bg = np.where(hit, bg, arena.far_albedo).astype(np.float32)
    bg = np.where(np.isfinite(x), bg, 0.0).astype(np.float32)
    return CameraRays(camera, ss, x, y, bg, _downsample(bg, ss))


def _undistort_grid(camera: Camera, us: np.ndarray, vs: np.ndarray, step: int = 8) -> np.ndarray:
    """Normalised coordinates (len(vs), len(us), 2) of a pixel grid.

    The distortion model is smooth, so it is inverted exactly on every ``step``-th pixel and
    interpolated by bicubic splines in between (error ~1e-8 px on the rigs' lenses); where the
    model has no inverse somewhere on the coarse grid, every pixel is inverted exactly.
    """
    from scipy.interpolate import RectBivariateSpline

    gu = np.append(us[::step], us[-1]) if (len(us) - 1) % step else us[::step]
    gv = np.append(vs[::step], vs[-1]) if (len(vs) - 1) % step else vs[::step]
    if len(gu) >= 4 and len(gv) >= 4:
        coarse = camera.undistort_points(np.stack(np.meshgrid(gu, gv), axis=-1))
        if np.all(np.isfinite(coarse)):
            return np.stack(
                [RectBivariateSpline(gv, gu, coarse[..., i])(vs, us) for i in range(2)], axis=-1
            )
    return camera.undistort_points(np.stack(np.meshgrid(us, vs), axis=-1))


def _downsample(img: np.ndarray, ss: int) -> np.ndarray:
    if ss == 1:
        return img.copy()
    h, w = img.shape[0] // ss, img.shape[1] // ss
    return img.reshape(h, ss, w, ss).mean(axis=(1, 3), dtype=np.float32)


def _camera_frame(
    prims: Primitives, camera: Camera, i: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-primitive ``M'`` (P, 3, 3), ``m = M' c`` (P, 3), ``|m|² − 1`` and centres (camera)."""
    R, t = camera.R, camera.t
    c_cam = prims.centres[i] @ R.T + t
    M = prims.axes[i] / prims.radii[i][..., None]  # diag(1/r) @ axes
    Mp = M @ R.T
    m = np.einsum("pij,pj->pi", Mp, c_cam)
    return Mp, m, np.sum(m * m, axis=-1) - 1.0, c_cam


def render_mouse(
    rays: CameraRays, prims: Primitives, i: int = 0, *, shading: bool = True
) -> np.ndarray:
    """Grey image (H, W) float32 0..1 of time step ``i`` of ``prims`` over the background.

    ``shading=False`` paints every primitive flat with its albedo (no light, no texture): with
    albedo 1 over a black background, pixel values are the exact covered fractions (masks).
    """
    cam = rays.camera
    ss = rays.ss
    out = rays.background.copy()
    Mp, m, c0, c_cam = _camera_frame(prims, cam, i)
    z = c_cam[:, 2]
    ok = z > 1.0
    if not ok.any():
        return out
    # image boxes: the projected corners of each ellipsoid's oriented bounding box
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    half = prims.axes[i] * prims.radii[i][..., None]  # (P, 3, 3): rows = semi-axes
    corners = prims.centres[i][:, None, :] + signs @ half  # (P, 8, 3)
    uv = cam.project(corners)
    lo, hi = uv.min(axis=1), uv.max(axis=1)
    pad = 2.0 + 0.03 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    H, W = rays.x.shape
    boxes = []
    for p in np.flatnonzero(ok & np.all(np.isfinite(uv), axis=(1, 2))):
        x0 = int(np.floor((lo[p, 0] + 0.5) * ss))
        x1 = int(np.ceil((hi[p, 0] + 0.5) * ss))
        y0 = int(np.floor((lo[p, 1] + 0.5) * ss))
        y1 = int(np.ceil((hi[p, 1] + 0.5) * ss))
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, W), min(y1, H)
        if x1 > x0 and y1 > y0:
            boxes.append((p, x0, x1, y0, y1))
    if not boxes:
        return out
    # the union of the boxes, aligned to whole camera pixels
    X0 = min(b[1] for b in boxes) // ss * ss
    Y0 = min(b[3] for b in boxes) // ss * ss
    X1 = -(-max(b[2] for b in boxes) // ss) * ss
    Y1 = -(-max(b[4] for b in boxes) // ss) * ss
    color = rays.background_ss[Y0:Y1, X0:X1].copy()
    depth = np.full(color.shape, np.inf, dtype=np.float32)
    light = (cam.R @ LIGHT).astype(np.float32)
    for p, x0, x1, y0, y1 in boxes:
        X = rays.x[y0:y1, x0:x1]
        Y = rays.y[y0:y1, x0:x1]
        A = Mp[p].astype(np.float32)
        d0 = A[0, 0] * X + A[0, 1] * Y + A[0, 2]
        d1 = A[1, 0] * X + A[1, 1] * Y + A[1, 2]
        d2 = A[2, 0] * X + A[2, 1] * Y + A[2, 2]
        a = d0 * d0 + d1 * d1 + d2 * d2
        mp = m[p].astype(np.float32)
        b = d0 * mp[0] + d1 * mp[1] + d2 * mp[2]
        disc = b * b - a * np.float32(c0[p])
        with np.errstate(invalid="ignore"):
            s = (b - np.sqrt(disc)) / a
        zs = depth[y0 - Y0 : y1 - Y0, x0 - X0 : x1 - X0]
        with np.errstate(invalid="ignore"):
            hit = (disc > 0) & (s > 0) & (s < zs)
        if not hit.any():
            continue
        sh = s[hit]
        zs[hit] = sh
        cs = color[y0 - Y0 : y1 - Y0, x0 - X0 : x1 - X0]
        if not shading:
            cs[hit] = prims.albedo[p]
            continue
        # shade only the pixels hit: unit-sphere coordinates q (fixed to the body), normal n
        q0, q1, q2 = sh * d0[hit] - mp[0], sh * d1[hit] - mp[1], sh * d2[hit] - mp[2]
        n0 = A[0, 0] * q0 + A[1, 0] * q1 + A[2, 0] * q2
        n1 = A[0, 1] * q0 + A[1, 1] * q1 + A[2, 1] * q2
        n2 = A[0, 2] * q0 + A[1, 2] * q1 + A[2, 2] * q2
        lam = (n0 * light[0] + n1 * light[1] + n2 * light[2]) / np.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
        shade = AMBIENT + DIFFUSE * np.maximum(lam, 0.0)
        tex = prims.texture[p]
        if tex:
            shade = shade * (
                1.0
                + tex
                * (
                    0.6 * np.sin(9.0 * q0 + 2.0 * np.sin(7.0 * q1))
                    + 0.4 * np.sin(13.0 * q2 + 5.0 * q0)
                )
            )
        cs[hit] = prims.albedo[p] * shade
    out[Y0 // ss : Y1 // ss, X0 // ss : X1 // ss] = _downsample(color, ss)
    return out


def keypoint_visibility(
    camera: Camera, prims: Primitives, keypoints: np.ndarray, names: list[str]
) -> np.ndarray:
    """Whether each keypoint's marker (or feature) is seen by ``camera``, ``(n, K)`` bool.

    A keypoint is visible when it projects inside the image, in front of the camera, and no
    body part other than its own marker/feature sphere is hit along its viewing ray in front
    of that sphere's near surface. ``keypoints`` is ``(n, K, 3)`` world mm.
    """
    pc = keypoints @ camera.R.T + camera.t  # (n, K, 3)
    zk = pc[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        d = pc / zk[..., None]
    uv = camera.project(keypoints)
    visible = camera.in_image(uv) & (zk > 1.0)
    tol = np.array([FEATURE_RADIUS.get(k, MARKER_RADIUS) for k in names])
    own = np.array([prims.keypoint_feature.get(k, -1) for k in names])
    R, t = camera.R, camera.t
    c_cam = prims.centres @ R.T + t  # (n, P, 3)
    M = prims.axes / prims.radii[..., None]
    Mp = M @ R.T  # (n, P, 3, 3)
    m = np.einsum("npij,npj->npi", Mp, c_cam)
    c0 = np.sum(m * m, axis=-1) - 1.0  # (n, P)
    md = np.einsum("npij,nkj->nkpi", Mp, d)  # (n, K, P, 3)
    a = np.sum(md * md, axis=-1)
    b = np.einsum("nkpi,npi->nkp", md, m)
    disc = b * b - a * c0[:, None, :]
    with np.errstate(invalid="ignore"):
        s = (b - np.sqrt(disc)) / a
        blocks = (disc > 0) & (s > 0) & (s < (zk - tol)[..., None])
    blocks[:, np.arange(len(names)), own] = False
    return visible & ~blocks.any(axis=-1)
