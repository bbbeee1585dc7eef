"""Camera model: projections against OpenCV, (un)distortion round trips, validation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mocap3d.camera import Camera, CameraGroup
from mocap3d.errors import InputError

K = np.array([[903.5, 0.0, 618.3], [0.0, 907.9, 394.2], [0.0, 0.0, 1.0]])
# strong barrel distortion of a real webcam (caliscope cam_0)
DIST5 = np.array([-0.3321, 0.04642, -0.004296, 0.004113, 0.06657])
DIST8 = np.array([0.12, -0.05, 0.001, -0.002, 0.01, 0.02, -0.01, 0.003])
FISHEYE = np.array([0.08, -0.03, 0.01, -0.002])


def make(model="pinhole", dist=DIST5, rvec=(0.1, -0.2, 0.3), tvec=(10.0, 20.0, 900.0)):
    return Camera.from_rvec("cam", (1280, 720), K, dist, rvec, tvec, model=model)


def points_in_view(cam: Camera, rng: np.random.Generator, n: int = 2000) -> np.ndarray:
    """World points whose projections fall inside the image, at 300–1500 mm depth."""
    uv = rng.uniform([0, 0], cam.size, size=(n, 2))
    xy = cam.undistort_points(uv)
    depth = rng.uniform(300, 1500, size=(n, 1))
    pc = np.column_stack([xy, np.ones(n)]) * depth
    return (pc - cam.t) @ cam.R  # camera → world


@pytest.mark.parametrize("dist", [DIST5, DIST8, DIST5[:4], np.zeros(0)], ids=["5", "8", "4", "0"])
def test_pinhole_projection_matches_opencv(rng, dist):
    cam = make(dist=dist)
    pts = points_in_view(cam, rng)
    ref = cv2.projectPoints(pts, cam.rvec, cam.t, K, dist if dist.size else None)[0][:, 0]
    np.testing.assert_allclose(cam.project(pts), ref, atol=1e-6, rtol=0)


def test_fisheye_projection_matches_opencv(rng):
    cam = make(model="fisheye", dist=FISHEYE)
    pts = points_in_view(cam, rng)
    ref = cv2.fisheye.projectPoints(pts[:, None], cam.rvec, cam.t, K, FISHEYE)[0][:, 0]
    np.testing.assert_allclose(cam.project(pts), ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "model,dist", [("pinhole", DIST5), ("pinhole", DIST8), ("fisheye", FISHEYE)]
)
def test_undistort_inverts_distort_over_the_whole_image(rng, model, dist):
    cam = make(model=model, dist=dist)
    uv = rng.uniform([0, 0], cam.size, size=(5000, 2))
    xy = cam.undistort_points(uv)
    assert np.isfinite(xy).all()
    np.testing.assert_allclose(cam.distort_points(xy), uv, atol=1e-6)


def test_undistort_is_more_accurate_than_opencv_default_near_the_edge():
    cam = make()
    corner = np.array([[5.0, 5.0]])
    ours = cam.distort_points(cam.undistort_points(corner))
    cv = cv2.undistortPoints(corner[:, None], K, DIST5)[:, 0]
    cv_back = cam.distort_points(cv)
    ours_err, cv_err = np.abs(ours - corner).max(), np.abs(cv_back - corner).max()
    assert ours_err < 1e-9
    assert cv_err > 1e-5  # OpenCV's default iterations fall short in the corner


def test_any_leading_shape_and_nan(rng):
    cam = make()
    pts = points_in_view(cam, rng, 24).reshape(2, 3, 4, 3)
    pts[0, 1, 2] = np.nan
    uv = cam.project(pts)
    assert uv.shape == (2, 3, 4, 2)
    assert np.isnan(uv[0, 1, 2]).all()
    assert np.isfinite(np.delete(uv.reshape(-1, 2), 6, axis=0)).all()
    np.testing.assert_allclose(cam.project(pts.reshape(-1, 3)).reshape(uv.shape), uv)


def test_points_behind_the_camera_project_to_nan():
    cam = Camera("c", (640, 480), K)
    uv = cam.project([[0, 0, -100.0], [0, 0, 0.0], [0, 0, 100.0]])
    assert np.isnan(uv[:2]).all()
    np.testing.assert_allclose(uv[2], K[:2, 2])


def test_center_and_projection_matrix(rng):
    cam = make(dist=np.zeros(5))
    pts = points_in_view(cam, rng, 50)
    h = np.column_stack([pts, np.ones(len(pts))]) @ cam.projection_matrix.T
    np.testing.assert_allclose(h[:, :2] / h[:, 2:], cam.project(pts), atol=1e-8)
    np.testing.assert_allclose(cam.world_to_camera(cam.center), 0, atol=1e-9)


def test_camera_is_immutable_and_replace_makes_a_copy():
    cam = make()
    with pytest.raises(ValueError, match="read-only"):
        cam.K[0, 0] = 1.0
    with pytest.raises(AttributeError):
        cam.name = "other"  # type: ignore[misc]
    moved = cam.replace(t=np.array([0.0, 0.0, 500.0]))
    assert moved != cam and cam.t[2] == 900.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"K": np.eye(2)}, "shape"),
        ({"K": [[100, 1, 50], [0, 100, 50], [0, 0, 1]]}, "no skew|fx, fy"),
        ({"R": np.diag([1.0, 1.0, -1.0])}, "rotation"),
        ({"dist": np.zeros(9)}, "at most 8"),
        ({"model": "fisheye", "dist": np.zeros(5)}, "at most 4"),
        ({"size": (0, 10)}, "size"),
        ({"t": [0, 0, np.nan]}, "NaN"),
    ],
)
def test_invalid_cameras_are_refused_with_the_camera_named(kwargs, match):
    args = {"name": "side_left", "size": (640, 480), "K": K, **kwargs}
    with pytest.raises(InputError, match=match) as info:
        Camera(**args)
    assert "side_left" in str(info.value) or "size" in match


def test_group_project_and_access(rng):
    cams = tuple(
        make(rvec=(0.1 * i, 0.2, 0.0), tvec=(i, 0, 800)).replace(name=f"c{i}") for i in range(3)
    )
    group = CameraGroup(cams)
    pts = points_in_view(cams[0], rng, 10)
    uv = group.project(pts.reshape(2, 5, 3))
    assert uv.shape == (3, 2, 5, 2)
    np.testing.assert_allclose(uv[2], cams[2].project(pts.reshape(2, 5, 3)))
    assert group["c1"] is cams[1] and group.index("c2") == 2
    assert group.subset(["c2", "c0"]).names == ["c2", "c0"]
    with pytest.raises(InputError, match="'nope' is not in the calibration"):
        group["nope"]
    with pytest.raises(InputError, match="unique"):
        CameraGroup((cams[0], cams[0]))
    norm = group.undistort_points(uv)
    np.testing.assert_allclose(group.project(pts.reshape(2, 5, 3)), uv)
    assert norm.shape == uv.shape


def test_undistort_gives_nan_where_the_lens_model_has_no_inverse():
    """Barrel k1 = −0.5 maps no point beyond a normalised radius of 0.544 (the model folds)."""
    cam = Camera("cam", (1000, 1000), [[500, 0, 500], [0, 500, 500], [0, 0, 1]], [-0.5])
    uv = np.array([[500 + 500 * 0.3, 500.0], [500 + 500 * 0.8, 500.0], [500.0, 500 - 400.0]])
    xy = cam.undistort_points(uv)
    assert np.isfinite(xy[0]).all() and np.isnan(xy[1:]).all()
    np.testing.assert_allclose(cam.distort_points(xy[:1]), uv[:1], atol=1e-9)
