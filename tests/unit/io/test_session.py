"""Session file: xarray groups round-trip, writes are atomic, layouts are checked."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr

from mocap3d.datasets import make_poses2d, make_poses3d
from mocap3d.errors import InputError, LayoutVersionError
from mocap3d.io import session as store


def poses3d(rng, n=20):
    return make_poses3d(
        rng.normal(size=(n, 3, 4, 1)),
        keypoints=["a", "b", "c", "d"],
        fps=500,
        reprojection_error=rng.uniform(size=(n, 4, 1)),
        n_views=np.full((n, 4, 1), 3),
        calibration_hash="abc123",
        provenance={"step": "triangulate", "method": "dlt"},
    )


def test_round_trip_keeps_values_dims_and_attrs(tmp_path, rng):
    path = tmp_path / "session.h5"
    ds = poses3d(rng)
    p2 = make_poses2d(
        rng.normal(size=(2, 20, 2, 4, 1)),
        views=["l", "r"],
        keypoints=["a", "b", "c", "d"],
        fps=500,
        source_software="DeepLabCut",
    )
    store.write_dataset(path, "trials/t1/poses3d", ds)
    store.write_dataset(path, "trials/t1/poses2d", p2)
    assert store.list_datasets(path) == ["trials/t1/poses2d", "trials/t1/poses3d"]
    back = store.read_dataset(path, "trials/t1/poses3d")
    xr.testing.assert_equal(back, ds)
    assert back.attrs["provenance"] == {"step": "triangulate", "method": "dlt"}
    assert back.attrs["space_unit"] == "mm" and back["reprojection_error"].attrs["units"] == "px"
    xr.testing.assert_equal(store.read_dataset(path, "/trials/t1/poses2d/"), p2)


def test_rewriting_a_group_replaces_it(tmp_path, rng):
    path = tmp_path / "session.h5"
    store.write_dataset(path, "trials/t1/poses3d", poses3d(rng, 20))
    store.write_dataset(path, "trials/t1/poses3d", poses3d(rng, 7))
    assert store.read_dataset(path, "trials/t1/poses3d").sizes["time"] == 7


def test_a_failed_write_leaves_the_old_file(tmp_path, rng):
    path = tmp_path / "session.h5"
    store.write_dataset(path, "trials/t1/poses3d", poses3d(rng))
    before = path.read_bytes()
    bad = xr.Dataset({"x": ("time", np.array([object(), object()], dtype=object))})
    with pytest.raises((TypeError, ValueError)):
        store.write_dataset(path, "trials/t2/poses3d", bad)
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_layouts_are_checked(tmp_path, rng):
    path = tmp_path / "session.h5"
    store.write_dataset(path, "a", poses3d(rng))
    with h5py.File(path, "a") as f:
        f.attrs["layout_version"] = 7
    with pytest.raises(LayoutVersionError, match="layout version 7"):
        store.read_dataset(path, "a")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=[1])
    with pytest.raises(InputError, match="not a mocap3d session file"):
        store.write_dataset(other, "a", poses3d(rng))


def test_missing_things_are_named(tmp_path, rng):
    path = tmp_path / "session.h5"
    with pytest.raises(InputError, match="does not exist"):
        store.read_dataset(path, "a")
    store.write_dataset(path, "trials/t1/poses3d", poses3d(rng))
    with pytest.raises(InputError, match=r"no dataset 'trials/t2/poses3d'.*trials/t1/poses3d"):
        store.read_dataset(path, "trials/t2/poses3d")
    with pytest.raises(InputError, match="invalid dataset group"):
        store.write_dataset(path, "../x", poses3d(rng))


def test_atomic_files_get_ordinary_permissions(tmp_path):
    """Derived files are readable like any new file (not owner-only like a temp file)."""
    import os

    from mocap3d.io.atomic import write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        assert ((tmp_path / "a.txt").stat().st_mode & 0o777) == 0o644
    finally:
        os.umask(old)
