"""Render a flat textured board into a distorted camera by inverse mapping.

For every output (sub)pixel: undistort → ray → intersect the board plane → board coordinate
→ texture lookup with :func:`cv2.remap`. Supersampling (``ss × ss`` samples per pixel, box
averaged) antialiases the edges, so the rendered corners sit where the camera model puts
them to within a few hundredths of a pixel.

Pixel convention (that of :mod:`mocap3d.camera`): integer coordinates are pixel centres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap3d.calibration.board import BoardSpec, board_image
from mocap3d.camera import Camera


@dataclass(frozen=True)
class BoardTexture:
    """A board raster and where the board frame lies on it.

    Attributes
    ----------
    image : (H, W) float32 ndarray
        Reflectance 0 (black) … 1 (white), paper margin included.
    px_per_mm : float
    margin_mm : float
        Paper around the squares: board point ``(x, y)`` mm is at texture pixel-centre
        coordinates ``((x + margin_mm) * px_per_mm - 0.5, (y + margin_mm) * px_per_mm - 0.5)``.
    """

    image: np.ndarray
    px_per_mm: float
    margin_mm: float

    @property
    def extent_mm(self) -> tuple[float, float, float, float]:
        """Paper edges in board coordinates: ``(x_min, x_max, y_min, y_max)`` mm."""
        h, w = self.image.shape
        m = self.margin_mm
        return (-m, w / self.px_per_mm - m, -m, h / self.px_per_mm - m)


def board_texture(spec: BoardSpec, *, px_per_mm: float, margin_mm: float) -> BoardTexture:
    """The board as a texture: black 0.07, white 0.93 (paper is never perfectly white)."""
    img, ppmm = board_image(spec, px_per_mm=px_per_mm, margin_mm=margin_mm)
    margin = round(margin_mm * ppmm) / ppmm
    return BoardTexture((img.astype(np.float32) / 255.0) * 0.86 + 0.07, ppmm, margin)


def background_scene(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A cluttered lab scene (0 … 1), fixed per camera.

    Smooth shading, grey boxes and bars with sharp edges (equipment, the arena's walls),
    thin lines (cables, seams) and fine texture: the edges and corners that make marker
    detection work for its living on real footage.
    """
    import cv2

    h, w = shape
    scale = max(w, h) / 1280
    coarse = rng.uniform(0.25, 0.6, size=(max(h // 32, 2), max(w // 32, 2))).astype(np.float32)
    img: np.ndarray = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img = img + np.linspace(-0.08, 0.08, h, dtype=np.float32)[:, None]
    for _ in range(int(rng.integers(25, 45))):  # boxes
        x0, y0 = rng.uniform(-0.1, 1.0) * w, rng.uniform(-0.1, 1.0) * h
        bw, bh = rng.uniform(0.03, 0.35) * w, rng.uniform(0.03, 0.35) * h
        pts = np.array([[x0, y0], [x0 + bw, y0], [x0 + bw, y0 + bh], [x0, y0 + bh]])
        c = pts.mean(axis=0)
        ang = rng.normal(0, 0.3)
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        pts = (pts - c) @ rot.T + c
        cv2.fillPoly(
            img,
            [np.round(pts * 16).astype(np.int32)],
            float(rng.uniform(0.08, 0.85)),
            lineType=cv2.LINE_AA,
            shift=4,
        )
    for _ in range(int(rng.integers(10, 25))):  # lines
        p0 = np.round(rng.uniform([0, 0], [w, h]) * 16).astype(np.int32)
        p1 = np.round(rng.uniform([0, 0], [w, h]) * 16).astype(np.int32)
        cv2.line(
            img,
            tuple(int(v) for v in p0),
            tuple(int(v) for v in p1),
            float(rng.uniform(0.05, 0.9)),
            max(1, round(rng.uniform(1, 4) * scale)),
            lineType=cv2.LINE_AA,
            shift=4,
        )
    fine = rng.normal(0, 0.04, size=(max(h // 4, 2), max(w // 4, 2))).astype(np.float32)
    img = img + cv2.resize(fine, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 0.7), 0.03, 0.95).astype(np.float32)


def ray_map(camera: Camera) -> np.ndarray:
    """Normalised ray directions of every pixel, with a one-pixel border.

    Returns
    -------
    (H + 2, W + 2, 2) float64 ndarray
        Entry ``[v + 1, u + 1]`` is the undistorted normalised coordinate of pixel ``(u, v)``;
        NaN where the lens model cannot be inverted.
    """
    w, h = camera.size
    u, v = np.meshgrid(np.arange(-1, w + 1, dtype=np.float64), np.arange(-1, h + 1))
    return camera.undistort_points(np.stack([u, v], axis=-1))


def _bilinear(grid: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Sample ``grid`` (H, W, C) at pixel positions ``xs`` (nx,) × ``ys`` (ny,) → (ny, nx, C)."""
    x0 = np.clip(np.floor(xs).astype(np.intp), 0, grid.shape[1] - 2)
    y0 = np.clip(np.floor(ys).astype(np.intp), 0, grid.shape[0] - 2)
    wx = (xs - x0)[None, :, None]
    wy = (ys - y0)[:, None, None]
    g00 = grid[np.ix_(y0, x0)]
    g01 = grid[np.ix_(y0, x0 + 1)]
    g10 = grid[np.ix_(y0 + 1, x0)]
    g11 = grid[np.ix_(y0 + 1, x0 + 1)]
    return (g00 * (1 - wx) + g01 * wx) * (1 - wy) + (g10 * (1 - wx) + g11 * wx) * wy


def board_footprint(
    camera: Camera, R_bc: np.ndarray, t_bc: np.ndarray, texture: BoardTexture, pad: int
) -> tuple[int, int, int, int] | None:
    """Pixel box ``(x0, x1, y0, y1)`` (exclusive ends) that holds the paper, or None."""
    x_min, x_max, y_min, y_max = texture.extent_mm
    s = np.linspace(0.0, 1.0, 41)
    edges = np.concatenate(
        [
            np.column_stack([x_min + s * (x_max - x_min), np.full_like(s, y_min)]),
            np.column_stack([x_min + s * (x_max - x_min), np.full_like(s, y_max)]),
            np.column_stack([np.full_like(s, x_min), y_min + s * (y_max - y_min)]),
            np.column_stack([np.full_like(s, x_max), y_min + s * (y_max - y_min)]),
        ]
    )
    pts = np.column_stack([edges, np.zeros(len(edges))]) @ R_bc.T + t_bc
    if np.all(pts[:, 2] <= 1e-6):
        return None
    w, h = camera.size
    if np.any(pts[:, 2] <= 1e-6):  # the paper crosses the camera plane: render everything
        return (0, w, 0, h)
    uv = camera.replace(R=np.eye(3), t=np.zeros(3)).project(pts)
    if not np.all(np.isfinite(uv)):
        return (0, w, 0, h)
    x0 = max(int(np.floor(uv[:, 0].min())) - pad, 0)
    x1 = min(int(np.ceil(uv[:, 0].max())) + pad + 1, w)
    y0 = max(int(np.floor(uv[:, 1].min())) - pad, 0)
    y1 = min(int(np.ceil(uv[:, 1].max())) + pad + 1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    return (x0, x1, y0, y1)


def render_board(
    camera: Camera,
    rays: np.ndarray,
    R_bc: np.ndarray,
    t_bc: np.ndarray,
    texture: BoardTexture,
    background: np.ndarray,
    *,
    supersample: int = 3,
    shade: float = 1.0,
    back_value: float = 0.55,
) -> np.ndarray:
    """Composite the board over ``background`` as ``camera`` sees it.

    Parameters
    ----------
    camera : Camera
        Intrinsics and image size (its pose is not used).
    rays : ndarray
        :func:`ray_map` of ``camera``.
    R_bc, t_bc : (3, 3), (3,) ndarray
        Board → camera pose (mm).
    texture : BoardTexture
    background : (H, W) float32 ndarray
        Radiance without the board (0 … 1 scale).
    supersample : int
        Samples per pixel along each axis.
    shade : float
        Illumination of the paper (multiplies the reflectance).
    back_value : float
        Reflectance of the board's back (seen when it faces away).

    Returns
    -------
    (H, W) float32 ndarray
    """
    import cv2

    out = background.astype(np.float32, copy=True)
    box = board_footprint(camera, R_bc, t_bc, texture, pad=2)
    if box is None:
        return out
    x0, x1, y0, y1 = box
    ss = int(supersample)
    offsets = (np.arange(ss) + 0.5) / ss - 0.5
    xs = (np.arange(x0, x1)[:, None] + offsets[None, :]).ravel() + 1.0  # +1: ray-map border
    ys = (np.arange(y0, y1)[:, None] + offsets[None, :]).ravel() + 1.0
    d = _bilinear(rays, xs, ys)  # (ny, nx, 2)
    n = R_bc[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = d[..., 0] * n[0] + d[..., 1] * n[1] + n[2]
        s = (n @ t_bc) / denom
        p = np.stack([d[..., 0] * s - t_bc[0], d[..., 1] * s - t_bc[1], s - t_bc[2]], axis=-1)
        b = p @ R_bc  # board coordinates (ny, nx, 3); R^T (P - t)
        tx = ((b[..., 0] + texture.margin_mm) * texture.px_per_mm - 0.5).astype(np.float32)
        ty = ((b[..., 1] + texture.margin_mm) * texture.px_per_mm - 0.5).astype(np.float32)
        th, tw = texture.image.shape
        inside = (s > 0) & (tx >= -0.5) & (tx <= tw - 0.5) & (ty >= -0.5) & (ty <= th - 0.5)
    inside &= np.isfinite(tx) & np.isfinite(ty)
    tx[~inside] = -10.0
    ty[~inside] = -10.0
    facing = float(n @ t_bc) > 0  # camera on the printed side (board z points away from it)
    if facing:
        sample = cv2.remap(texture.image, tx, ty, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    else:
        sample = np.full(tx.shape, back_value, np.float32)
    bg = np.repeat(np.repeat(out[y0:y1, x0:x1], ss, axis=0), ss, axis=1)
    composite = np.where(inside, sample * np.float32(shade), bg)
    out[y0:y1, x0:x1] = cv2.resize(composite, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return out
