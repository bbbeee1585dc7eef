"""Real webcams (caliscope's 4-camera ChArUco session): board corners 54 mm apart in 3D."""

from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd
import pytest

from mocap3d.camera import Camera, CameraGroup
from mocap3d.triangulation import triangulate_dlt, triangulate_robust

SPACING_MM = 54.0


@pytest.fixture(scope="module")
def session(real_data):
    root = real_data / "caliscope_4cam_charuco"
    peer = tomllib.loads((root / "peer_camera_array.toml").read_text())["cameras"]
    cams = []
    for cam_id in sorted(peer, key=int):
        c = peer[cam_id]
        cams.append(
            Camera(
                f"cam_{cam_id}",
                tuple(c["size"]),
                c["matrix"],
                c["distortions"],
                "pinhole",
                c["rotation"],
                np.array(c["translation"]) * 1000.0,  # m → mm
            )
        )
    group = CameraGroup(tuple(cams))
    df = pd.read_csv(root / "peer_xy_CHARUCO.csv")
    frames = sorted(df.sync_index.unique())
    corners = sorted(df.keypoint_id.unique())
    uv = np.full((len(cams), len(frames), len(corners), 2), np.nan)
    f_idx = {f: i for i, f in enumerate(frames)}
    k_idx = {k: i for i, k in enumerate(corners)}
    for row in df.itertuples():
        uv[int(row.cam_id), f_idx[row.sync_index], k_idx[row.keypoint_id]] = (
            row.img_loc_x,
            row.img_loc_y,
        )
    board = df.groupby("keypoint_id")[["obj_loc_x", "obj_loc_y"]].first().loc[corners].to_numpy()
    d = np.linalg.norm(board[:, None] - board[None], axis=-1) * 1000.0
    pairs = np.argwhere(np.triu(np.isclose(d, SPACING_MM)))
    return group, uv, pairs


def _spacings(points, pairs):
    d = np.linalg.norm(points[:, pairs[:, 0]] - points[:, pairs[:, 1]], axis=-1)
    return d[np.isfinite(d)]


@pytest.mark.parametrize("method", [triangulate_dlt, triangulate_robust])
def test_board_corners_are_54_mm_apart(session, method):
    """The peer tool's own result: median 53.8 mm (IQR 53.4–54.2)."""
    group, uv, pairs = session
    res = method(group, uv)
    s = _spacings(res.position, pairs)
    assert s.size > 300
    assert abs(np.median(s) - SPACING_MM) < 0.5
    q1, q3 = np.percentile(s, [25, 75])
    assert q3 - q1 < 1.5
    assert np.nanmedian(res.reprojection_error) < 1.5  # px, webcams at 1280×720
