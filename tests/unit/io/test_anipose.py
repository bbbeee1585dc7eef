"""Anipose calibration.toml: round trips, camera order, and agreement with aniposelib 0.8.0."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from mocap3d.camera import Camera, CameraGroup
from mocap3d.errors import InputError


def peer_calibration_as_anipose(real_data, tmp_path):
    """A real calibration (caliscope's, of the real 4-camera footage) written by aniposelib.

    Caliscope stores metres and rotation matrices; aniposelib's own writer turns it into an
    Anipose calibration.toml in mm, exactly as Anipose users have them.
    """
    aniposelib = pytest.importorskip("aniposelib.cameras")
    peer = tomllib.loads(
        (real_data / "caliscope_4cam_charuco" / "peer_camera_array.toml").read_text()
    )
    cams = []
    for key in sorted(peer["cameras"], key=int):
        c = peer["cameras"][key]
        R = np.array(c["rotation"])
        rvec = Camera("tmp", (1, 1), np.eye(3), R=R).rvec
        cams.append(
            aniposelib.Camera(
                name=f"cam_{key}",
                size=c["size"],
                matrix=c["matrix"],
                dist=c["distortions"],
                rvec=rvec,
                tvec=np.array(c["translation"]) * 1000.0,
            )
        )
    group = aniposelib.CameraGroup(cams, metadata={"source": "caliscope peer calibration"})
    path = tmp_path / "calibration.toml"
    group.dump(str(path))
    return path, group


def test_real_anipose_file_loads_and_projects_like_aniposelib(real_data, tmp_path, rng):
    path, reference = peer_calibration_as_anipose(real_data, tmp_path)
    ours = CameraGroup.load(path)
    assert ours.names == ["cam_0", "cam_1", "cam_2", "cam_3"]
    assert ours.metadata["source"] == "caliscope peer calibration"
    # points in front of all four cameras: around the board's workspace, ~1 m away
    pts = ours.centers.mean(axis=0) * 0.0 + rng.normal(0, 150, size=(500, 3))
    in_front = np.all([c.world_to_camera(pts)[:, 2] > 100 for c in ours], axis=0)
    pts = pts[in_front]
    assert len(pts) > 300
    np.testing.assert_allclose(ours.project(pts), reference.project(pts), atol=1e-6, rtol=0)


def test_real_anipose_file_resaves_to_equal_values(real_data, tmp_path):
    path, _ = peer_calibration_as_anipose(real_data, tmp_path)
    first = CameraGroup.load(path)
    first.save(tmp_path / "again.toml")
    second = CameraGroup.load(tmp_path / "again.toml")
    assert second.allclose(first, rtol=1e-12, atol=1e-12)
    assert dict(second.metadata) == dict(first.metadata)
    a, b = (tomllib.loads(p.read_text()) for p in (path, tmp_path / "again.toml"))
    for key in ("cam_0", "cam_3"):
        for field in ("name", "size", "matrix", "distortions", "translation"):
            np.testing.assert_array_equal(
                np.asarray(a[key][field], dtype=object), np.asarray(b[key][field], dtype=object)
            )
        np.testing.assert_allclose(a[key]["rotation"], b[key]["rotation"], atol=1e-14)


def _group(n: int, fisheye_every: int = 0) -> CameraGroup:
    cams = []
    for i in range(n):
        fish = fisheye_every and i % fisheye_every == 0
        cams.append(
            Camera.from_rvec(
                f"cam{i}",
                (640 + i, 480),
                [[500.0 + i, 0, 320], [0, 501.0, 240], [0, 0, 1]],
                [0.01 * i, -0.02, 0.001, 0.0] if fish else [0.1, -0.01 * i, 0.0, 0.001, 0.002],
                [0.1 * i, -0.05, 0.2],
                [i * 10.0, -5.0, 700.0],
                model="fisheye" if fish else "pinhole",
            )
        )
    return CameraGroup(tuple(cams), {"error": 0.31, "adjusted": True})


def test_twelve_cameras_keep_their_order(tmp_path):
    group = _group(12)
    group.save(tmp_path / "c.toml")
    assert CameraGroup.load(tmp_path / "c.toml").names == [f"cam{i}" for i in range(12)]


def test_aniposelib_would_reorder_twelve_cameras(tmp_path):
    """Documents why we read cam_<n> numerically: aniposelib sorts the keys as text."""
    aniposelib = pytest.importorskip("aniposelib.cameras")
    _group(12).save(tmp_path / "c.toml")
    theirs = aniposelib.CameraGroup.load(str(tmp_path / "c.toml"))
    assert theirs.get_names()[:3] == ["cam0", "cam1", "cam10"]


def test_fisheye_round_trip_and_aniposelib_agreement(tmp_path, rng):
    aniposelib = pytest.importorskip("aniposelib.cameras")
    group = _group(3, fisheye_every=2)
    group.save(tmp_path / "f.toml")
    text = (tmp_path / "f.toml").read_text()
    assert text.count("fisheye = true") == 2
    loaded = CameraGroup.load(tmp_path / "f.toml")
    assert loaded.allclose(group, rtol=1e-12, atol=1e-12)
    assert [c.model for c in loaded] == ["fisheye", "pinhole", "fisheye"]
    theirs = aniposelib.CameraGroup.load(str(tmp_path / "f.toml"))
    pts = rng.normal(0, 50, size=(200, 3))
    np.testing.assert_allclose(loaded.project(pts), theirs.project(pts), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "text,match",
    [
        ("[cam_0]\nname='a'\n", r"lacks \['size'"),
        ("not toml [", "not valid TOML"),
        ("[metadata]\nx=1\n", "no camera tables"),
        (
            "[cam_0]\nname='a'\nsize=[10,10]\nmatrix=[[1,0,0],[0,1,0]]\ndistortions=[0,0,0,0,0]\n"
            "rotation=[0,0,0]\ntranslation=[0,0,0]\n",
            r"\[cam_0\].*K must have shape",
        ),
    ],
)
def test_malformed_files_name_the_problem(tmp_path, text, match):
    p = tmp_path / "calibration.toml"
    p.write_text(text)
    with pytest.raises(InputError, match=match):
        CameraGroup.load(p)


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(InputError, match="mocap3d calibrate"):
        CameraGroup.load(tmp_path / "nope.toml")
