"""Intrinsics: recover the simulator's lenses; fall back to fewer terms and say why."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.calibration.intrinsics import calibrate_intrinsics, valid_radius
from mocap3d.camera import Camera
from mocap3d.errors import InputError
from mocap3d.rig import load_rig
from tests.fixtures.board_observations import synthetic_observations


@pytest.fixture(scope="module")
def seed_obs(seed_rig_path):
    rig = load_rig(seed_rig_path)
    obs, cams, _ = synthetic_observations(rig, n_frames=80, noise_px=0.05)
    return rig, obs, cams


def _views(obs, name):
    uv = obs.sel(view=name).transpose("frame", "corner", "space").values
    return uv[np.isfinite(uv[..., 0]).any(axis=1)]


@pytest.mark.parametrize("name", ["side_left", "overhead"])  # pinhole and fisheye
def test_full_model_recovers_the_lens(seed_obs, name):
    rig, obs, cams = seed_obs
    true = cams[name]
    res = calibrate_intrinsics(name, _views(obs, name), rig.board, true.size, model=true.model)
    cam = res.camera
    assert cam.model == true.model
    assert res.n_views >= 15
    np.testing.assert_allclose(cam.K[[0, 1], [0, 1]], true.K[[0, 1], [0, 1]], rtol=2e-3)
    np.testing.assert_allclose(cam.K[:2, 2], true.K[:2, 2], atol=3.0)
    # the model explains the views down to the noise (0.05 px per coordinate)
    assert res.rms_px < 0.09
    assert res.notes == ()
    # terms left out are those the views show to be zero: never k1; the pinhole's k2 = 0.08
    # moves the image corners by ~0.6 px, so it stays
    assert res.parameters.startswith("k1 k2" if true.model == "pinhole" else "k1")


def test_few_views_fall_back_and_say_why(seed_obs):
    rig, obs, cams = seed_obs
    views = _views(obs, "front")[:6]
    res = calibrate_intrinsics("front", views, rig.board, cams["front"].size)
    assert res.parameters in ("k1 k2", "k1")
    assert any("needs 12" in n for n in res.notes)
    np.testing.assert_allclose(res.camera.K[0, 0], cams["front"].K[0, 0], rtol=0.02)


def test_two_views_fix_the_principal_point(seed_obs):
    rig, obs, cams = seed_obs
    views = _views(obs, "front")[:2]
    res = calibrate_intrinsics("front", views, rig.board, cams["front"].size)
    w, h = cams["front"].size
    np.testing.assert_allclose(res.camera.K[:2, 2], [(w - 1) / 2, (h - 1) / 2])
    assert any("principal point fixed" in n for n in res.notes)


def test_views_in_one_corner_cannot_support_the_full_model(seed_obs):
    """Views that all sit near the image centre leave high-order terms undetermined."""
    rig, obs, cams = seed_obs
    views = _views(obs, "side_left")
    w, h = cams["side_left"].size
    centre = np.array([w / 2, h / 2])
    near = [v for v in views if np.nanmax(np.linalg.norm(v - centre, axis=-1)) < 0.3 * w]
    assert len(near) >= 5
    res = calibrate_intrinsics("side_left", np.stack(near), rig.board, (w, h))
    assert "k3" not in res.parameters
    assert res.notes or res.not_significant


def test_no_usable_view(seed_obs):
    rig, _, _ = seed_obs
    views = np.full((3, rig.board.n_corners, 2), np.nan)
    views[:, :6] = np.arange(12, dtype=float).reshape(6, 2)  # one row only: collinear
    with pytest.raises(InputError, match="camera 'x': no board view has 6 corners"):
        calibrate_intrinsics("x", views, rig.board, (1280, 1024))


def test_valid_radius():
    K = [[1000, 0, 640], [0, 1000, 512], [0, 0, 1]]
    assert valid_radius(Camera("a", (1280, 1024), K, [0.1, 0, 0, 0, 0])) == np.inf
    r = valid_radius(Camera("a", (1280, 1024), K, [-0.4, 0, 0, 0, 0]))
    # r (1 - 0.4 r²) peaks at r = 1/sqrt(1.2): rd = 2/3 · r
    np.testing.assert_allclose(r, 2 / 3 / np.sqrt(1.2), rtol=1e-3)
