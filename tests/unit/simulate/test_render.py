"""Rendered images agree with the camera model; videos are deterministic and DLC-readable."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from mocap3d.simulate.raster import camera_rays, keypoint_visibility, render_mouse
from mocap3d.simulate.render import CameraJob, RenderOptions, read_video, render_camera
from mocap3d.simulate.scene import Primitives, mouse_primitives
from mocap3d.simulate.skeleton import KEYPOINTS


def _spheres(centres: np.ndarray, radius: float) -> Primitives:
    n = len(centres)
    return Primitives(
        names=tuple(f"s{i}" for i in range(n)),
        centres=centres[None],
        axes=np.broadcast_to(np.eye(3), (1, n, 3, 3)).copy(),
        radii=np.full((1, n, 3), radius),
        albedo=np.ones(n),
        texture=np.zeros(n),
        keypoint_feature={},
    )


def _black(rays):
    return replace(
        rays,
        background=np.zeros_like(rays.background),
        background_ss=np.zeros_like(rays.background_ss),
    )


def _centroid(img: np.ndarray, uv: np.ndarray, half: int = 8) -> tuple[np.ndarray, float]:
    u, v = round(uv[0]), round(uv[1])
    y0, x0 = max(v - half, 0), max(u - half, 0)
    win = img[y0 : v + half + 1, x0 : u + half + 1]
    yy, xx = np.mgrid[y0 : y0 + win.shape[0], x0 : x0 + win.shape[1]]
    w = win.sum()
    return np.array([(xx * win).sum() / w, (yy * win).sum() / w]), float(w)


@pytest.mark.parametrize("camera", ["side_left", "overhead"])
def test_rendered_spheres_sit_at_their_projections_across_the_image(demo_cameras, camera):
    """Silhouette centroids of small spheres vs Camera.project, distortion included."""
    cam = demo_cameras[camera]
    rng = np.random.default_rng(4)
    pts = rng.uniform([-60, -45, 0], [120, 45, 80], size=(400, 3))
    uv = cam.project(pts)
    inside = cam.in_image(uv) & np.all((uv > 10) & (uv < np.array(cam.size) - 10), axis=-1)
    pts, uv = pts[inside][:40], uv[inside][:40]
    # keep spheres whose windows do not overlap
    keep = [i for i in range(len(uv)) if all(np.abs(uv[i] - uv[j]).max() > 18 for j in range(i))]
    pts, uv = pts[keep], uv[keep]
    assert len(pts) >= 10
    rays = _black(camera_rays(cam, supersample=3))
    img = render_mouse(rays, _spheres(pts, 1.2), shading=False)
    errors = [np.linalg.norm(_centroid(img, p)[0] - p) for p in uv]
    assert max(errors) < 0.25, errors
    # an honest check: a half-pixel shift of the camera would be caught
    shifted = cam.replace(K=cam.K + np.array([[0, 0, 0.5], [0, 0, 0], [0, 0, 0]]))
    assert (
        np.median(
            [
                np.linalg.norm(_centroid(img, p)[0] - q)
                for p, q in zip(uv, shifted.project(pts), strict=True)
            ]
        )
        > 0.4
    )


def test_visible_markers_of_the_mouse_are_at_the_truth_2d(demo_cameras, control_jump):
    """Full mouse: the visible part of each keypoint's marker is centred on its truth pixel."""
    times = np.array([0.1, 0.3, 0.33, 0.38, 0.45, 0.55, 0.6])
    pts = control_jump.points(times)
    prims = mouse_primitives(pts)
    kp = np.stack([pts[k] for k in KEYPOINTS], axis=1)
    features = [prims.keypoint_feature[k] for k in KEYPOINTS]
    on = replace(prims, albedo=np.where(np.isin(np.arange(len(prims)), features), 1.0, 0.0))
    off = replace(prims, albedo=np.zeros(len(prims)))
    checked = agree = 0
    for cam in demo_cameras:
        rays = _black(camera_rays(cam, supersample=3))
        vis = keypoint_visibility(cam, prims, kp, list(KEYPOINTS))
        uv = cam.project(kp)
        for i in range(len(times)):
            seen = render_mouse(rays, on, i, shading=False)
            seen -= render_mouse(rays, off, i, shading=False)
            for k, f in enumerate(features):
                marker = _spheres(prims.centres[i, [f]], prims.radii[i, f, 0])
                alone = render_mouse(rays, marker, shading=False)
                if not np.all(np.isfinite(uv[i, k])) or not cam.in_image(uv[i, k]):
                    continue
                # the part of this marker that is seen: its own silhouette ∩ what is visible
                mine = np.minimum(seen, alone)
                full = alone.sum()
                part = mine.sum()
                agree += int(vis[i, k] == (part > 0.5 * full))
                if vis[i, k] and part > 0.98 * full:
                    c, _ = _centroid(mine, uv[i, k])
                    assert np.linalg.norm(c - uv[i, k]) < 0.5, (cam.name, times[i], KEYPOINTS[k])
                    checked += 1
    assert checked >= 40
    assert agree / (len(demo_cameras) * len(times) * len(KEYPOINTS)) > 0.85


def test_side_cameras_see_the_labelled_side(demo_cameras, control_jump):
    t = np.arange(0.0, 1.0, 0.02)
    pts = control_jump.points(t)
    prims = mouse_primitives(pts)
    kp = np.stack([pts[k] for k in KEYPOINTS], axis=1)
    left = keypoint_visibility(demo_cameras["side_left"], prims, kp, list(KEYPOINTS)).mean()
    right = keypoint_visibility(demo_cameras["side_right"], prims, kp, list(KEYPOINTS)).mean()
    assert left > 0.8 and right < 0.5


def _job(tmp_path, cam, jump, name, seed, **kw):
    return CameraJob(
        cam,
        jump,
        0.32 + np.arange(20) / 500,
        1e-3,
        tmp_path / name / "cam.mp4",
        seed=seed,
        options=RenderOptions(**kw.pop("opts", {})),
        **kw,
    )


def test_videos_are_deterministic_and_drop_frames_on_demand(tmp_path, tiny_cameras, control_jump):
    cam = tiny_cameras["side_left"]
    labels = tmp_path / "labels"
    n = render_camera(
        _job(
            tmp_path,
            cam,
            control_jump,
            "a",
            1,
            dropped=frozenset({5, 9}),
            label_frames=(3, 5),
            label_dir=labels,
        )
    )
    assert n == 18
    render_camera(_job(tmp_path, cam, control_jump, "b", 1, dropped=frozenset({5, 9})))
    render_camera(_job(tmp_path, cam, control_jump, "c", 2, dropped=frozenset({5, 9})))
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / "a" / "cam.mp4") == digest(tmp_path / "b" / "cam.mp4")
    assert digest(tmp_path / "a" / "cam.mp4") != digest(tmp_path / "c" / "cam.mp4")
    frames = read_video(tmp_path / "a" / "cam.mp4")
    assert frames.shape == (18, cam.size[1], cam.size[0])
    import cv2

    png = cv2.imread(str(labels / "img00003.png"), cv2.IMREAD_GRAYSCALE)
    assert np.abs(frames[3].astype(float) - png).mean() < 4.0  # codec loss only
    assert (labels / "img00005.png").exists()  # a dropped frame can still be a label source
    blurred = render_camera(_job(tmp_path, cam, control_jump, "d", 1, opts={"motion_blur": 3}))
    assert blurred == 20
    sharp = read_video(tmp_path / "c" / "cam.mp4")
    assert not np.array_equal(read_video(tmp_path / "d" / "cam.mp4")[:5], sharp[:5])
