"""Make HDF5 files written by PyTables (pandas) byte-reproducible.

PyTables stamps every group with its creation time, so writing the same table twice gives
different bytes. :func:`rewrite_without_times` copies every group, dataset and attribute
(same dtypes, chunks) into a fresh file through h5py, which records no times; pandas and
DeepLabCut read the result exactly as before.
"""

from __future__ import annotations

from pathlib import Path

import h5py

from mocap3d.io.atomic import atomic_path


def _copy(src: h5py.Group, dst: h5py.Group) -> None:
    for key in src.attrs:
        dst.attrs.create(key, src.attrs[key], dtype=src.attrs.get_id(key).dtype)
    for name, obj in src.items():
        if isinstance(obj, h5py.Group):
            _copy(obj, dst.create_group(name))
            continue
        ds = dst.create_dataset(
            name,
            data=obj[...],
            dtype=obj.dtype,
            chunks=obj.chunks,
            maxshape=obj.maxshape if obj.chunks else None,
        )
        for key in obj.attrs:
            ds.attrs.create(key, obj.attrs[key], dtype=obj.attrs.get_id(key).dtype)


def rewrite_without_times(path: str | Path) -> None:
    """Rewrite ``path`` in place (atomically) without object timestamps."""
    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
        _copy(src, dst)
