"""World frame: from the board lying on the platform, or from named reference points."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.calibration.poses import invert_T, make_T
from mocap3d.calibration.world import (
    board_frame_to_world,
    board_pose_from_views,
    load_reference_points,
    transform_group,
    world_from_board,
    world_from_points,
)
from mocap3d.camera import rodrigues_to_matrix
from mocap3d.errors import InputError
from mocap3d.rig import load_rig
from mocap3d.simulate.rig_geometry import camera_layout


@pytest.fixture(scope="module")
def rig_and_cams(demo_rig_path):
    rig = load_rig(demo_rig_path)
    return rig, camera_layout(rig, seed=1)


def _scrambled(cams):
    """The same rig in an arbitrary world frame."""
    T = make_T(rodrigues_to_matrix([0.3, -1.2, 0.4]), [120.0, -40.0, 75.0])
    return transform_group(cams, T), T


def test_transform_keeps_projections(rig_and_cams):
    _, cams = rig_and_cams
    moved, T = _scrambled(cams)
    pts = np.random.default_rng(0).uniform([-20, -20, 0], [80, 20, 60], (50, 3))
    pts_new = pts @ T[:3, :3].T + T[:3, 3]
    np.testing.assert_allclose(moved.project(pts_new), cams.project(pts), atol=1e-8)


def test_board_on_platform_restores_the_simulator_world(rig_and_cams):
    rig, cams = rig_and_cams
    moved, T = _scrambled(cams)
    board_true = board_frame_to_world(rig.board)  # board lying on the platform, centred
    board_in_moved = T @ board_true
    back = world_from_board(moved, board_in_moved, rig.board)
    assert back.allclose(cams, atol=1e-8)


def test_board_pose_from_views_of_the_platform_frame(rig_and_cams):
    rig, cams = rig_and_cams
    moved, T = _scrambled(cams)
    board = T @ board_frame_to_world(rig.board)
    world_pts = rig.board.corner_points_mm() @ board[:3, :3].T + board[:3, 3]
    corners = {c.name: c.project(world_pts) for c in moved}
    est = board_pose_from_views(moved, corners, rig.board)
    np.testing.assert_allclose(est, board, atol=1e-6)
    with pytest.raises(InputError, match="no camera sees at least 6 corners"):
        board_pose_from_views(
            moved, {n: np.full_like(v, np.nan) for n, v in corners.items()}, rig.board
        )


def test_board_thickness_lowers_the_origin(rig_and_cams):
    rig, cams = rig_and_cams
    thick = world_from_board(cams, board_frame_to_world(rig.board), rig.board, thickness_mm=3.0)
    np.testing.assert_allclose(thick.centers, cams.centers + np.array([0, 0, 3.0]), atol=1e-9)


def test_reference_points(rig_and_cams, tmp_path):
    _, cams = rig_and_cams
    moved, T = _scrambled(cams)
    world = {
        "origin": [0.0, 0.0, 0.0],
        "x_axis": [50.0, 0.0, 0.0],
        "plane": [10.0, 40.0, 0.0],
        "post": [30.0, -20.0, 25.0],
    }
    pixels = {}
    for name, p in world.items():
        p_moved = T[:3, :3] @ np.asarray(p) + T[:3, 3]
        pixels[name] = {c.name: c.project(p_moved).tolist() for c in moved}
    back = world_from_points(moved, pixels, world)
    assert back.allclose(cams, atol=1e-6)
    # the same through the TOML file
    lines = []
    for name, p in world.items():
        px = ", ".join(f"{c} = [{u:.6f}, {v:.6f}]" for c, (u, v) in pixels[name].items())
        lines.append(f"[points.{name}]\nworld_mm = {p}\npixels = {{ {px} }}\n")
    path = tmp_path / "reference_points.toml"
    path.write_text("\n".join(lines))
    pix, wmm = load_reference_points(path)
    assert world_from_points(moved, pix, wmm).allclose(cams, atol=1e-4)


def test_reference_points_errors(rig_and_cams):
    _, cams = rig_and_cams
    one_cam = {
        "a": {"side_left": [10, 10]},
        "b": {"side_left": [20, 20], "front": [1, 1]},
        "c": {"side_left": [30, 30], "front": [2, 2]},
    }
    world = {"a": [0, 0, 0], "b": [1, 0, 0], "c": [0, 1, 0]}
    with pytest.raises(InputError, match="'a' is seen by fewer than 2 cameras"):
        world_from_points(cams, one_cam, world)
    with pytest.raises(InputError, match="need ≥ 3 reference points"):
        world_from_points(cams, {"a": one_cam["a"]}, world)


def test_inverse_of_the_platform_board():
    T = make_T(rodrigues_to_matrix([0.1, 0.2, 0.3]), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(invert_T(T) @ T, np.eye(4), atol=1e-12)
