"""A rendered 3D skeleton video: the keypoints seen by a virtual camera beside the platform.

The virtual camera is an ordinary :class:`~mocap3d.camera.Camera` (pinhole, no distortion)
looking at the jump from the side, slightly from the front and above, framed to fit the whole
trial; the floor (10 mm grid), the platform, the bones and the hip's path are drawn with
OpenCV, so a 500-frame trial renders in about a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from mocap3d.camera import Camera
from mocap3d.datasets import validate_poses3d
from mocap3d.errors import InputError
from mocap3d.progress import Progress, report
from mocap3d.report.overlay import KEYPOINT_BGR, phase_at
from mocap3d.report.video import Codec, VideoSink

_SHIFT = 4


def virtual_camera(
    points: np.ndarray,
    *,
    size: tuple[int, int] = (640, 480),
    direction: Sequence[float] = (-0.35, 1.0, -0.45),
    margin: float = 0.08,
) -> Camera:
    """A pinhole camera looking along ``direction`` that frames every finite point.

    Parameters
    ----------
    points : (n, 3) array
        World points, mm (NaN rows ignored).
    size : (int, int)
        Image width and height, px.
    direction : (3,) sequence
        Viewing direction in the world frame (default: from the -y side, a little from the
        front and above); the world's +z is up in the image.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    p = p[np.isfinite(p).all(axis=1)]
    if not p.size:
        raise InputError("no finite 3D point to frame")
    centre = (p.min(axis=0) + p.max(axis=0)) / 2
    extent = float(np.ptp(p, axis=0).max()) or 10.0
    d = np.asarray(direction, dtype=np.float64)
    d /= np.linalg.norm(d)
    x = np.cross(d, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    R = np.stack([x, np.cross(d, x), d])
    eye = centre - 3.0 * extent * d
    t = -R @ eye
    pc = p @ R.T + t
    xy = pc[:, :2] / pc[:, 2:3]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    w, h = size
    f = (1 - 2 * margin) * min(w / max(hi[0] - lo[0], 1e-9), h / max(hi[1] - lo[1], 1e-9))
    cx = w / 2 - f * (lo[0] + hi[0]) / 2
    cy = h / 2 - f * (lo[1] + hi[1]) / 2
    K = np.array([[f, 0, cx], [0, f, cy], [0, 0, 1]])
    return Camera("virtual", size, K, np.zeros(5), "pinhole", R, t)


def _fixed(uv: np.ndarray) -> np.ndarray:
    return np.round(uv * (1 << _SHIFT)).astype(np.int64)


def render_skeleton_view(
    path: str | Path,
    poses3d: xr.Dataset,
    bones: Sequence[tuple[str, str]],
    *,
    events: Mapping[str, float] | None = None,
    individual: str | None = None,
    platform_size_mm: tuple[float, float] | None = (60.0, 60.0),
    trace: str | None = "hip",
    size: tuple[int, int] = (640, 480),
    playback_fps: float = 50.0,
    codec: Codec = "auto",
    title: str = "",
    progress: Progress | None = None,
) -> Path:
    """Write a video of the 3D skeleton, one frame per poses3d time point.

    Returns
    -------
    Path
        ``path`` (its suffix must match the codec, see :func:`mocap3d.report.video.video_suffix`).
    """
    import cv2

    ds = validate_poses3d(poses3d)
    ind = individual or str(ds["individual"].values[0])
    kps = [str(k) for k in ds["keypoint"].values]
    xyz = ds["position"].sel(individual=ind).transpose("time", "keypoint", "space").values
    floor_pts = [xyz.reshape(-1, 3)]
    if platform_size_mm is not None:
        a, b = platform_size_mm[0] / 2, platform_size_mm[1] / 2
        platform = np.array([[-a, -b, 0], [a, -b, 0], [a, b, 0], [-a, b, 0]])
        floor_pts.append(platform)
    cam = virtual_camera(np.vstack(floor_pts), size=size)
    # background: floor grid and platform
    finite = np.vstack(floor_pts)
    finite = finite[np.isfinite(finite).all(axis=1)]
    lo = np.floor(finite.min(axis=0)[:2] / 10 - 1) * 10
    hi = np.ceil(finite.max(axis=0)[:2] / 10 + 1) * 10
    bg = np.full((size[1], size[0], 3), 245, np.uint8)
    for x in np.arange(lo[0], hi[0] + 1, 10):
        seg = _fixed(cam.project(np.array([[x, lo[1], 0], [x, hi[1], 0]])))
        cv2.line(bg, tuple(seg[0]), tuple(seg[1]), (215, 215, 215), 1, cv2.LINE_AA, _SHIFT)
    for y in np.arange(lo[1], hi[1] + 1, 10):
        seg = _fixed(cam.project(np.array([[lo[0], y, 0], [hi[0], y, 0]])))
        cv2.line(bg, tuple(seg[0]), tuple(seg[1]), (215, 215, 215), 1, cv2.LINE_AA, _SHIFT)
    if platform_size_mm is not None:
        poly = _fixed(cam.project(platform))
        cv2.fillPoly(bg, [poly.reshape(-1, 1, 2)], (200, 225, 240), cv2.LINE_AA, _SHIFT)
        cv2.polylines(bg, [poly.reshape(-1, 1, 2)], True, (90, 90, 90), 1, cv2.LINE_AA, _SHIFT)
    uv = cam.project(xyz)
    bone_idx = [(kps.index(a), kps.index(b)) for a, b in bones if a in kps and b in kps]
    path_idx = kps.index(trace) if trace in kps else None
    t = ds["time"].values
    with VideoSink(path, size, playback_fps, codec) as sink:
        for i in range(t.size):
            img = bg.copy()
            if path_idx is not None and i > 0:
                past = uv[: i + 1, path_idx]
                past = _fixed(past[np.isfinite(past).all(axis=1)])
                if len(past) > 1:
                    cv2.polylines(
                        img,
                        [past.reshape(-1, 1, 2)],
                        False,
                        (160, 160, 160),
                        1,
                        cv2.LINE_AA,
                        _SHIFT,
                    )
            p = uv[i]
            ok = np.isfinite(p).all(axis=1)
            q = _fixed(np.where(ok[:, None], p, 0))
            for a, b in bone_idx:
                if ok[a] and ok[b]:
                    cv2.line(img, tuple(q[a]), tuple(q[b]), (60, 60, 60), 3, cv2.LINE_AA, _SHIFT)
            for k in np.flatnonzero(ok):
                colour = KEYPOINT_BGR[k % len(KEYPOINT_BGR)]
                cv2.circle(img, tuple(q[k]), 5 << _SHIFT, colour, -1, cv2.LINE_AA, _SHIFT)
            label = f"{title}  {t[i]:.4f} s  {phase_at(t[i], events or {})}".strip()
            cv2.putText(
                img, label, (10, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (30, 30, 30), 1, cv2.LINE_AA
            )
            sink.write(img)
            if i % 50 == 0:
                report(progress, i, t.size, f"3D view {title}")
    report(progress, t.size, t.size, f"3D view {title}")
    return Path(path)
