"""Anipose pose-3d CSV: Anipose's exact columns, round trips, files as Anipose writes them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mocap3d.datasets import make_poses3d
from mocap3d.errors import InputError
from mocap3d.io.pose3d_csv import read_pose3d_csv, write_pose3d_csv


def poses3d(rng, n=20, individuals=("individual_0",)):
    pos = rng.uniform(-50, 50, size=(n, 3, 2, len(individuals)))
    pos[3, :, 1, 0] = np.nan
    nv = np.full((n, 2, len(individuals)), 3)
    nv[3, 1, 0] = 0
    err = rng.uniform(0, 2, size=(n, 2, len(individuals)))
    err[3, 1, 0] = np.nan
    ds = make_poses3d(
        pos,
        keypoints=["nose", "hip"],
        individuals=list(individuals),
        reprojection_error=err,
        n_views=nv,
        fps=500.0,
    )
    ds["score"] = (
        ("time", "keypoint", "individual"),
        rng.uniform(0.5, 1, (n, 2, len(individuals))),
    )
    return ds


def test_columns_are_anipose_s(tmp_path, rng):
    path = tmp_path / "p3d.csv"
    write_pose3d_csv(poses3d(rng), path)
    df = pd.read_csv(path)
    per_bp = [
        f"{bp}_{f}" for bp in ("nose", "hip") for f in ("x", "y", "z", "error", "ncams", "score")
    ]
    matrix = [f"M_{i}{j}" for i in range(3) for j in range(3)]
    assert list(df.columns) == [*per_bp, *matrix, "center_0", "center_1", "center_2", "fnum"]
    assert df["fnum"].tolist() == list(range(20))
    assert df["M_00"].eq(1).all() and df["M_01"].eq(0).all()
    assert np.isnan(df.loc[3, "hip_x"]) and df.loc[3, "hip_ncams"] == 0


def test_round_trip(tmp_path, rng):
    ds = poses3d(rng)
    path = tmp_path / "p3d.csv"
    write_pose3d_csv(ds, path)
    back = read_pose3d_csv(path, fps=500.0)
    np.testing.assert_allclose(back.position.values, ds.position.values, rtol=1e-12)
    np.testing.assert_allclose(back.reprojection_error.values, ds.reprojection_error.values)
    np.testing.assert_array_equal(back.n_views.values, ds.n_views.values)
    np.testing.assert_allclose(back.score.values, ds.score.values)
    np.testing.assert_allclose(back.time.values, ds.time.values)
    assert list(back.keypoint.values) == ["nose", "hip"]


def test_reads_a_file_as_anipose_writes_it(tmp_path):
    """Anipose: NaN ncams where < 2 cameras, a rotated frame (M, center), fnum from 0."""
    df = pd.DataFrame(
        {
            "paw_x": [1.0, np.nan],
            "paw_y": [2.0, np.nan],
            "paw_z": [3.0, np.nan],
            "paw_error": [0.5, np.nan],
            "paw_ncams": [3.0, np.nan],
            "paw_score": [0.9, np.nan],
        }
    )
    M = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1.0]])
    for i in range(3):
        for j in range(3):
            df[f"M_{i}{j}"] = M[i, j]
    for i in range(3):
        df[f"center_{i}"] = [5.0, 0.0, 1.0][i]
    df["fnum"] = [7, 8]
    path = tmp_path / "anipose.csv"
    df.to_csv(path, index=False)
    ds = read_pose3d_csv(path)
    assert ds.n_views.values[:, 0, 0].tolist() == [3, 0]
    assert ds.time.values.tolist() == [7, 8] and ds.attrs["time_unit"] == "frame"
    assert ds.attrs["anipose_M"] == M.ravel().tolist()
    np.testing.assert_allclose(ds.position.values[0, :, 0, 0], [1, 2, 3])


def test_errors(tmp_path, rng):
    with pytest.raises(InputError, match="one animal"):
        write_pose3d_csv(poses3d(rng, individuals=("a", "b")), tmp_path / "x.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="_x"):
        read_pose3d_csv(bad)
    with pytest.raises(InputError, match="does not exist"):
        read_pose3d_csv(tmp_path / "missing.csv")
