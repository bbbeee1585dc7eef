"""Wide CSV tables: units in the headers, the truth's numbers in the cells, exact round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from mocap3d.datasets import make_poses3d
from mocap3d.errors import InputError
from mocap3d.io.tables import (
    read_csv_table,
    read_trial_csv,
    trial_table,
    write_csv,
    write_trial_csv,
)
from mocap3d.simulate.standin import truth_angles
from mocap3d.simulate.truth import read_truth
from tests.fixtures.outputs_project import shared_project


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    project = shared_project(tmp_path_factory, videos=False)
    session = project.sessions()[0]
    return read_truth(session.root / "truth" / "truth.h5").trials["trial_001"]


def test_columns_carry_units_and_the_truth(trial):
    table = trial_table(trial.poses3d(), truth_angles(trial))
    assert list(table.columns[:5]) == ["frame", "time_s", "nose_x_mm", "nose_y_mm", "nose_z_mm"]
    for col in ("hip_x_mm", "iliac_crest_z_mm", "toe_error_px", "tail_base_ncams"):
        assert col in table.columns
    assert [c for c in table.columns if c.endswith("_angle_deg")] == [
        "hip_angle_deg",
        "knee_angle_deg",
        "ankle_angle_deg",
        "mtp_angle_deg",
    ]
    hip = trial.keypoints.index("hip")
    np.testing.assert_array_equal(table["hip_x_mm"], trial["keypoints3d"][:, hip, 0])
    knee = trial.angle_names.index("knee")
    np.testing.assert_allclose(table["knee_angle_deg"], np.degrees(trial["angles"][:, knee]))
    np.testing.assert_array_equal(table["time_s"], trial["pose_time_s"])
    assert table["frame"].tolist() == list(range(len(table)))


def test_round_trip_gives_the_same_numbers(trial, tmp_path):
    p3 = trial.poses3d()
    pos = p3["position"].values.copy()
    pos[3, :, 2, 0] = np.nan  # a keypoint lost in one frame
    p3 = p3.copy(data={**{k: v.values for k, v in p3.data_vars.items()}, "position": pos})
    angles = truth_angles(trial)
    path = write_trial_csv(tmp_path / "trial.csv", p3, angles)
    text = path.read_text()
    assert text.splitlines()[0].startswith("frame,time_s,nose_x_mm")
    back3, back_angles = read_trial_csv(path)
    for var in ("position", "reprojection_error", "n_views"):
        np.testing.assert_array_equal(back3[var].values, p3[var].values)
    np.testing.assert_array_equal(back3["time"].values, p3["time"].values)
    assert list(back3["keypoint"].values) == trial.keypoints
    np.testing.assert_allclose(back_angles.values, angles.values, rtol=1e-15, atol=0)
    assert back_angles.dims == ("time", "joint", "individual")


def test_several_individuals_are_prefixed(tmp_path):
    pos = np.arange(5 * 3 * 2 * 2, dtype=float).reshape(5, 3, 2, 2)
    p3 = make_poses3d(pos, keypoints=["a", "b"], individuals=["m1", "m2"], fps=100)
    path = write_trial_csv(tmp_path / "t.csv", p3)
    header = path.read_text().splitlines()[0].split(",")
    assert "m1.a_x_mm" in header and "m2.b_ncams" in header
    back, angles = read_trial_csv(path)
    assert angles is None
    np.testing.assert_array_equal(back["position"].values, pos)
    assert list(back["individual"].values) == ["m1", "m2"]


def test_angles_on_another_time_base_are_refused(trial):
    angles = truth_angles(trial).isel(time=slice(1, None))
    with pytest.raises(InputError, match="different time bases"):
        trial_table(trial.poses3d(), angles)
    with pytest.raises(InputError, match="needs poses3d"):
        trial_table(None, None)
    degrees = xr.DataArray(np.zeros((2, 1)), dims=("time", "joint"), attrs={"units": "deg"})
    with pytest.raises(InputError, match="radians"):
        trial_table(None, degrees)


def test_metrics_table_round_trip(tmp_path):
    df = pd.DataFrame(
        {"group": ["control", "perturbed"], "jump_height_mm": [38.123456789012345, np.nan]},
        index=pd.Index(["trial_001", "trial_002"], name="trial"),
    )
    path = write_csv(tmp_path / "metrics.csv", df)
    back = read_csv_table(path, index="trial")
    pd.testing.assert_frame_equal(back, df)
    with pytest.raises(InputError, match="does not exist"):
        read_trial_csv(tmp_path / "nope.csv")
