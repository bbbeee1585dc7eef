"""Quality report: the geometry check measures the board; warnings fire when they should."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mocap3d.calibration.bundle import BundleOptions, bundle_adjust
from mocap3d.calibration.quality import (
    adjacent_pairs,
    assess_calibration,
    compare_calibrations,
    corner_spacing,
    coverage_grid,
)
from mocap3d.calibration.triangulate import triangulate
from mocap3d.camera import CameraGroup
from mocap3d.rig import load_rig
from tests.fixtures.board_observations import synthetic_observations


@pytest.fixture(scope="module")
def case(demo_rig_path):
    rig = load_rig(demo_rig_path)
    obs, cams, poses = synthetic_observations(rig, n_frames=50, noise_px=0.0, seed=1)
    return rig, obs, cams, poses


def test_adjacent_pairs(demo_rig_path):
    spec = load_rig(demo_rig_path).board
    nx, ny = spec.squares_x - 1, spec.squares_y - 1  # inner corners per row and column
    pairs = adjacent_pairs(spec)
    assert len(pairs) == ny * (nx - 1) + nx * (ny - 1)
    d = np.linalg.norm(np.diff(spec.corner_points_mm()[pairs], axis=1)[:, 0], axis=1)
    np.testing.assert_allclose(d, spec.square_length_mm)


def test_triangulation_is_exact_on_exact_pixels(case):
    _, _, cams, _ = case
    pts = np.random.default_rng(0).uniform([-20, -20, 0], [80, 20, 60], (30, 3))
    np.testing.assert_allclose(triangulate(cams, cams.project(pts)), pts, atol=1e-6)
    one = cams.project(pts)
    one[1:] = np.nan
    assert np.all(np.isnan(triangulate(cams, one)))


def test_spacing_is_the_square_length_with_the_true_calibration(case):
    rig, obs, cams, _ = case
    d = corner_spacing(cams, obs, rig.board)
    assert d.size > 100
    np.testing.assert_allclose(d, rig.board.square_length_mm, atol=1e-6)
    # a calibration scaled by 1 % measures squares 1 % too large
    scaled = CameraGroup(tuple(c.replace(t=c.t * 1.01) for c in cams))
    np.testing.assert_allclose(
        np.median(corner_spacing(scaled, obs, rig.board)),
        1.01 * rig.board.square_length_mm,
        rtol=1e-6,
    )


def test_report_numbers_and_json(case):
    rig, obs, cams, _ = case
    start = CameraGroup(tuple(c.replace(R=np.eye(3), t=np.zeros(3)) for c in cams))
    group, bundle = bundle_adjust(
        start, obs, rig.board, options=BundleOptions(refine_intrinsics=False)
    )
    rep = assess_calibration(group, obs, rig.board, bundle)
    assert rep.geometry["n_pairs"] > 100
    assert abs(rep.geometry["median_error_percent"]) < 1e-3
    assert set(rep.cameras) == set(cams.names)
    for info in rep.cameras.values():
        assert info["rms_px"] < 1e-3 and 0 < info["coverage"] <= 1
    assert rep.view_rms_px.shape == (len(cams), len(rep.view_frames))
    doc = json.loads(json.dumps(rep.to_dict()))
    assert doc["board_geometry"]["square_length_mm"] == rig.board.square_length_mm
    assert len(doc["views"]["rms_px"]["front"]) == len(rep.view_frames)


def test_warnings_for_few_views_and_poor_coverage(case):
    rig, obs, cams, _ = case
    uv = obs.values.copy()
    k = cams.names.index("front")
    keep = np.flatnonzero(np.isfinite(uv[k, :, :, 0]).any(axis=1))[:6]
    drop = np.setdiff1d(np.arange(uv.shape[1]), keep)
    uv[k, drop] = np.nan
    thin = obs.copy(data=uv)
    start = CameraGroup(tuple(c.replace(R=np.eye(3), t=np.zeros(3)) for c in cams))
    group, bundle = bundle_adjust(
        start, thin, rig.board, options=BundleOptions(refine_intrinsics=False)
    )
    rep = assess_calibration(group, thin, rig.board, bundle)
    text = "\n".join(rep.warnings)
    assert "front: only 6 views" in text
    assert "front: corners cover only" in text


def test_coverage_grid():
    grid = coverage_grid(np.array([[0.0, 0.0], [99.0, 99.0], [np.nan, 1.0]]), (100, 100), n=4)
    assert grid.sum() == 2 and grid[0, 0] == 1 and grid[3, 3] == 1


def test_compare_calibrations(case):
    _, _, cams, _ = case
    from mocap3d.calibration.poses import make_T
    from mocap3d.calibration.world import transform_group
    from mocap3d.camera import rodrigues_to_matrix

    moved = transform_group(cams, make_T(rodrigues_to_matrix([0.2, 0.1, -0.3]), [5.0, 1, 2]))
    raw = compare_calibrations(moved, cams)
    assert max(v["centre_mm"] for v in raw.values()) > 1
    aligned = compare_calibrations(moved, cams, align=True)
    assert max(v["centre_mm"] for v in aligned.values()) < 1e-9
    assert max(v["rotation_deg"] for v in aligned.values()) < 1e-5
