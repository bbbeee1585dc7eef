"""The real caliscope session: four unsynchronised webcams, a 4×5 inverted ChArUco board."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from mocap3d.calibration.board import load_board_spec
from mocap3d.calibration.calibrate import calibrate_footage
from mocap3d.calibration.detect import detect_cameras
from mocap3d.calibration.observations import frame_keys_from_sync_table

pytestmark = pytest.mark.slow

NAMES = [f"cam_{i}" for i in range(4)]


@pytest.fixture(scope="module")
def session(real_data, repo):
    root = real_data / "caliscope_4cam_charuco"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    spec = load_board_spec(repo / "calibration" / "boards" / "caliscope-4x5-54mm.toml")
    footage = {n: root / f"{n}.mp4" for n in NAMES}
    keys = frame_keys_from_sync_table(root / "timestamps.csv", {n: i for i, n in enumerate(NAMES)})
    return root, spec, footage, keys


def test_video_frame_k_is_the_kth_sync_index(session):
    """Video frame k of a camera ↔ its k-th row by time in timestamps.csv: our corners in
    frame k match caliscope's own corners at that sync_index."""
    root, spec, footage, keys = session
    dets = detect_cameras(footage, spec)
    peer: dict[tuple[int, int], dict[int, np.ndarray]] = {}
    with open(root / "peer_xy_CHARUCO.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            key = (int(row["cam_id"]), int(row["sync_index"]))
            peer.setdefault(key, {})[int(row["keypoint_id"])] = np.array(
                [float(row["img_loc_x"]), float(row["img_loc_y"])]
            )
    for c, name in enumerate(NAMES):
        assert len(keys[name]) == 57
        median = {}
        for offset in (-1, 0, 1):  # pair video frame k with the (k + offset)-th sync index
            diffs = []
            for frame, corners in zip(dets[name].frames, dets[name].corners, strict=True):
                k = frame + offset
                if not 0 <= k < len(keys[name]):
                    continue
                theirs = peer.get((c, int(keys[name][k])), {})
                diffs += [
                    np.linalg.norm(corners[i] - p)
                    for i, p in theirs.items()
                    if np.isfinite(corners[i, 0])
                ]
            median[offset] = float(np.median(diffs))
        # two detectors agree to a fraction of a pixel (cam_3's far board: ~0.9 px) only
        # with the documented pairing; one frame off, corners are pixels apart
        assert median[0] < 1.0, (name, median)
        assert median[0] < 0.4 * min(median[-1], median[1]), (name, median)


def test_calibration_measures_54_mm_squares(session):
    _, spec, footage, keys = session
    res = calibrate_footage(footage, spec, frame_keys=keys)
    g = res.quality.geometry
    assert g["n_pairs"] > 500
    assert abs(g["median_mm"] - 54.0) / 54.0 < 0.005, g
    assert g["iqr_mm"] < 1.5
    assert set(res.bundle.tree) | {res.bundle.reference_camera} == set(NAMES)
    for info in res.quality.cameras.values():
        assert info["median_px"] < 2.0
