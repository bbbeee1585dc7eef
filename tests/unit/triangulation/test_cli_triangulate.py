"""``mocap3d triangulate``: DeepLabCut files in, Anipose CSV or HDF5 out, exit 2 on bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mocap3d.cli import main
from mocap3d.datasets import make_poses2d
from mocap3d.io.dlc import write_dlc_tracks
from mocap3d.io.session import read_dataset
from tests.fixtures.synthetic_tracks import observe


@pytest.fixture(scope="module")
def project(tmp_path_factory, demo_group, motion):
    """calibration.toml and one DeepLabCut .h5 per camera, 300 frames."""
    root = tmp_path_factory.mktemp("tri_cli")
    demo_group.save(root / "calibration.toml")
    obs = observe(demo_group, motion.points[:300], seed=8)
    for c, name in enumerate(demo_group.names):
        ds = make_poses2d(
            obs.uv[c : c + 1].transpose(0, 1, 3, 2)[..., None],
            obs.confidence[c : c + 1, ..., None],
            views=[name],
            keypoints=motion.keypoints,
            fps=500,
        )
        write_dlc_tracks(ds, root / f"{name}.h5")
    return root


def _cameras(root, names=("side_left", "side_right", "front", "overhead")):
    out = []
    for n in names:
        out += ["--camera", f"{n}={root / n}.h5"]
    return out


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_csv_with_rig(project, demo_rig_path, motion, capsys):
    out = project / "points3d.csv"
    code, stdout, _ = run(
        [
            "triangulate",
            "-c",
            str(project / "calibration.toml"),
            *_cameras(project),
            "--rig",
            str(demo_rig_path),
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code in (0, None)
    assert "triangulated 300 frames × 10 keypoints with spatiotemporal" in stdout
    df = pd.read_csv(out)
    assert len(df) == 300 and df["fnum"].tolist() == list(range(300))
    pts = np.stack([df[[f"{k}_x", f"{k}_y", f"{k}_z"]].to_numpy() for k in motion.keypoints], 1)
    err = np.linalg.norm(pts - motion.points[:300], axis=-1)
    assert np.nanmedian(err) < 0.25


def test_h5_robust(project, motion, capsys):
    out = project / "session.h5"
    code, _, _ = run(
        [
            "triangulate",
            "-c",
            str(project / "calibration.toml"),
            *_cameras(project),
            "--method",
            "robust",
            "--out",
            str(out),
            "--group",
            "trials/t1/poses3d",
        ],
        capsys,
    )
    assert code in (0, None)
    ds = read_dataset(out, "trials/t1/poses3d")
    assert ds.attrs["triangulation_method"] == "robust"
    pts = ds.position.transpose("time", "keypoint", "individual", "space").values[:, :, 0]
    assert np.nanmedian(np.linalg.norm(pts - motion.points[:300], axis=-1)) < 0.7


@pytest.mark.parametrize(
    "change,needle",
    [
        (
            lambda r: [*_cameras(r, ("side_left", "side_right")), "--camera", f"top={r}/front.h5"],
            "['top'] given with --camera are not in",
        ),
        (lambda r: _cameras(r, ("side_left",)), "at least two cameras"),
        (lambda r: [*_cameras(r), "--method", "fast"], "--method must be one of"),
        (lambda r: ["--camera", "side_left"], "NAME=TRACKS.h5"),
        (lambda r: [*_cameras(r), "--method", "spatiotemporal"], "frame rate"),
    ],
)
def test_bad_input_exits_2(project, capsys, change, needle):
    code, _, err = run(
        [
            "triangulate",
            "-c",
            str(project / "calibration.toml"),
            *change(project),
            "--out",
            str(project / "x.csv"),
        ],
        capsys,
    )
    assert code == 2
    assert needle in " ".join(err.split())
    assert "Traceback" not in err


def test_tracks_of_different_lengths_exit_2(project, tmp_path, capsys):
    short = pd.read_hdf(project / "front.h5").iloc[:290]
    short.to_hdf(tmp_path / "front.h5", key="df_with_missing", format="table")
    args = [
        *_cameras(project, ("side_left", "side_right")),
        "--camera",
        f"front={tmp_path}/front.h5",
    ]
    code, _, err = run(
        [
            "triangulate",
            "-c",
            str(project / "calibration.toml"),
            *args,
            "--method",
            "robust",
            "--out",
            str(tmp_path / "x.csv"),
        ],
        capsys,
    )
    err = " ".join(err.split())
    assert code == 2 and "front: 290 frames" in err and "never cuts tracks to the shortest" in err
    assert not (tmp_path / "x.csv").exists()


def test_console_script_exit_code(project):
    """The real process: exit status 2 and one message, no traceback."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mocap3d",
            "triangulate",
            "-c",
            str(project / "calibration.toml"),
            *_cameras(project, ("side_left",)),
            "--out",
            str(project / "y.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "at least two cameras" in out.stderr
