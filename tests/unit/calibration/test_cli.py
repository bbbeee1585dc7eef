"""``mocap3d calibrate`` and ``mocap3d board print`` as users run them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib

import numpy as np
import pytest

from mocap3d.calibration.quality import compare_calibrations
from mocap3d.camera import CameraGroup
from tests.unit.calibration.helpers import board_images, write_images


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mocap3d", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _nothing_written(out_dir) -> bool:
    return (
        not (out_dir / "calibration.toml").exists()
        and not (out_dir / "calibration-report").exists()
    )


@pytest.mark.slow
def test_calibrate_board_and_cameras(demo_footage, demo_rig, tmp_path):
    board = demo_rig.path.parent / demo_rig.calibration.board
    cams = [f"--camera={n}={p}" for n, p in demo_footage["paths"].items()]
    out = tmp_path / "out" / "calibration.toml"
    res = run("calibrate", "--board", board, *cams, "--out", out)
    assert res.returncode == 0, res.stderr
    group = CameraGroup.load(out)
    assert group.names == list(demo_footage["paths"])
    assert "board geometry" in res.stdout and "reference camera" in res.stdout
    report = out.parent / "calibration-report"
    for name in ("quality.json", "reprojection.png", "coverage.png", "board_geometry.png"):
        assert (report / name).is_file(), name
    # the rig's shape, whatever the world frame
    cmp = compare_calibrations(group, demo_footage["truth"].cameras, align=True)
    assert max(v["centre_mm"] for v in cmp.values()) < 3.0
    meta = tomllib.loads(out.read_text())["metadata"]
    assert meta["world_frame"] == "camera" and meta["board"] == demo_rig.board.name


@pytest.mark.slow
def test_calibrate_project_puts_the_world_on_the_platform(demo_footage, demo_rig_path, tmp_path):
    from mocap3d.io.project import create_project

    project = create_project(tmp_path / "proj", demo_rig_path)
    for name, path in demo_footage["paths"].items():
        shutil.copytree(path, project.calibration_footage_dir / name)
    res = run("calibrate", "--project", project.root)
    assert res.returncode == 0, res.stderr
    group = CameraGroup.load(project.calibration_path)
    assert group.metadata["world_frame"] == "board_on_platform"
    truth = demo_footage["truth"].cameras
    cmp = compare_calibrations(group, truth)  # no alignment: the world frame itself
    assert max(v["centre_mm"] for v in cmp.values()) < 10.0
    assert max(v["rotation_deg"] for v in cmp.values()) < 1.5
    assert (project.calibration_dir / "calibration-report" / "quality.json").is_file()
    # second run: detections come from the cache
    assert any((project.calibration_dir / ".cache").glob("*.npz"))


def test_corrupted_video_exit_2_nothing_written(demo_footage, demo_rig_path, tmp_path):
    bad = tmp_path / "front.mp4"
    bad.write_bytes(os.urandom(5000))
    out = tmp_path / "out"
    cams = [f"--camera={n}={p}" for n, p in demo_footage["paths"].items() if n != "front"]
    res = run(
        "calibrate",
        "--rig",
        demo_rig_path,
        *cams,
        f"--camera=front={bad}",
        "--out",
        out / "calibration.toml",
    )
    assert res.returncode == 2, res.stderr
    assert "camera 'front': cannot read video" in res.stderr
    assert "Traceback" not in res.stderr
    assert _nothing_written(out)


def test_spec_that_does_not_match_exit_2(demo_footage, tmp_path):
    spec = tmp_path / "wrong.toml"
    spec.write_text(
        "[board]\nsquares_x = 7\nsquares_y = 5\nsquare_length_mm = 10\n"
        'marker_length_mm = 7.5\ndictionary = "DICT_6X6_50"\n'
    )
    cams = [f"--camera={n}={p}" for n, p in demo_footage["paths"].items()]
    out = tmp_path / "out"
    res = run("calibrate", "--board", spec, *cams, "--out", out / "calibration.toml")
    assert res.returncode == 2
    assert 'set dictionary = "DICT_4X4_50"' in res.stderr and "camera '" in res.stderr
    assert _nothing_written(out)


def test_camera_never_seen_with_the_others_exit_2(demo_rig_path, tmp_path):
    board = demo_rig_path.parent / ".." / "calibration" / "boards" / "charuco-7x5-10mm.toml"
    from mocap3d.calibration.board import load_board_spec

    spec = load_board_spec(board)
    views = board_images(spec, n=4)
    blank = [np.full((256, 320), 100, np.uint8)] * 4
    write_images(tmp_path / "a", views + blank)
    write_images(tmp_path / "b", blank + views)
    out = tmp_path / "out"
    res = run(
        "calibrate",
        "--board",
        board,
        f"--camera=a={tmp_path / 'a'}",
        f"--camera=b={tmp_path / 'b'}",
        "--out",
        out / "calibration.toml",
    )
    assert res.returncode == 2
    assert "never see the board in the same frame" in res.stderr
    assert _nothing_written(out)


def test_mixed_image_sizes_exit_2(demo_footage, tmp_path):
    import cv2

    folder = tmp_path / "side_left"
    shutil.copytree(demo_footage["paths"]["side_left"], folder)
    first = sorted(folder.iterdir())[3]
    cv2.imwrite(str(first), np.zeros((100, 120), np.uint8))
    cams = [f"--camera={n}={p}" for n, p in demo_footage["paths"].items() if n != "side_left"]
    board = demo_footage["truth"].spec
    spec = tmp_path / "board.toml"
    import tomli_w

    spec.write_text(tomli_w.dumps({"board": board.to_dict()}))
    out = tmp_path / "out"
    res = run(
        "calibrate",
        "--board",
        spec,
        f"--camera=side_left={folder}",
        *cams,
        "--out",
        out / "calibration.toml",
    )
    assert res.returncode == 2
    assert "camera 'side_left'" in res.stderr and "120×100" in res.stderr
    assert _nothing_written(out)


@pytest.mark.parametrize(
    "args,match",
    [
        ((), "exactly one of --project"),
        (("--board", "x.toml", "--rig", "y.toml"), "exactly one of"),
        (("--project", "nowhere"), "not a mocap3d project"),
        (("--project", "p", "--footage", "f"), "--footage: nothing to do with --project"),
    ],
)
def test_usage_errors(args, match, tmp_path):
    res = run("calibrate", *args)
    assert res.returncode == 2
    assert match in res.stderr


def test_board_print(repo, tmp_path):
    res = run(
        "board",
        "print",
        repo / "calibration" / "boards" / "charuco-7x5-10mm.toml",
        "--out",
        tmp_path,
        "--dpi",
        "150",
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "charuco-7x5-10mm.pdf").is_file()
    assert (tmp_path / "charuco-7x5-10mm.png").is_file()
    assert "fits on A4" in res.stdout


@pytest.mark.slow
def test_world_frame_without_the_board_exit_2(demo_footage, tmp_path):
    board = demo_footage["truth"].spec
    spec = tmp_path / "board.toml"
    import tomli_w

    spec.write_text(tomli_w.dumps({"board": board.to_dict()}))
    cams = [f"--camera={n}={p}" for n, p in demo_footage["paths"].items()]
    out = tmp_path / "out"
    res = run(
        "calibrate",
        "--board",
        spec,
        *cams,
        "--out",
        out / "calibration.toml",
        "--world",
        "board_on_platform",
        "--platform-frame",
        "999",
    )
    assert res.returncode == 2
    assert "no camera sees the board in frame 999" in res.stderr
    assert _nothing_written(out)
