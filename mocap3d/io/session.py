"""The session HDF5 file: derived datasets (poses, angles, events …) as xarray groups.

One file per session (``<session>/derived/session.h5``). Each dataset lives in its own group,
e.g. ``trials/trial_001/poses3d``, written by xarray through h5netcdf so that named dimensions,
coordinates and attributes survive and any netCDF/HDF5 tool can read it. The root carries
``layout = "mocap3d.session"`` and ``layout_version``.

Writes are atomic: the file is copied, the group written into the copy, and the copy renamed
over the original, so a crash leaves either the old file or the new one, never half of each.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from mocap3d.errors import InputError, LayoutVersionError
from mocap3d.io.atomic import atomic_path

LAYOUT = "mocap3d.session"
LAYOUT_VERSION = 1


def _clean_group(group: str) -> str:
    parts = [p for p in str(group).strip("/").split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise InputError(f"invalid dataset group {group!r}; use e.g. 'trials/trial_001/poses3d'")
    return "/".join(parts)


def _netcdf_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes as netCDF can store them: bools → int, dicts/None → JSON strings."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, bool | np.bool_):
            out[key] = int(value)
        elif isinstance(value, dict) or value is None:
            out[key] = "json:" + json.dumps(value, default=str)
        elif isinstance(value, list | tuple) and any(isinstance(v, str) for v in value):
            out[key] = [str(v) for v in value]
        else:
            out[key] = value
    return out


def _python_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return {
        k: json.loads(v[5:]) if isinstance(v, str) and v.startswith("json:") else v
        for k, v in attrs.items()
    }


def _check_layout(f: h5py.File, path: Path) -> None:
    layout = f.attrs.get("layout")
    if layout != LAYOUT:
        raise InputError(
            f"{path} is not a mocap3d session file (layout {layout!r}, expected "
            f"{LAYOUT!r}); was it written by another tool?"
        )
    version = int(f.attrs.get("layout_version", -1))
    if version != LAYOUT_VERSION:
        raise LayoutVersionError(
            f"{path} has session layout version {version}; this mocap3d reads version "
            f"{LAYOUT_VERSION} — upgrade mocap3d, or re-run the pipeline to rebuild the file"
        )


def write_dataset(path: str | Path, group: str, ds: xr.Dataset) -> None:
    """Write ``ds`` into group ``group`` of the session file, replacing that group if present.

    Parameters
    ----------
    path : path-like
        Session file; created with the session layout if missing.
    group : str
        Slash-separated group, e.g. ``trials/trial_001/poses3d``.
    ds : xarray.Dataset
    """
    path = Path(path)
    group = _clean_group(group)
    ds = ds.copy()
    ds.attrs = _netcdf_attrs(dict(ds.attrs))
    for name in ds.variables:
        ds[name].attrs = _netcdf_attrs(dict(ds[name].attrs))
    with atomic_path(path) as tmp:
        if path.exists():
            with h5py.File(path, "r") as f:
                _check_layout(f, path)
            shutil.copyfile(path, tmp)
            with h5py.File(tmp, "a") as f:
                if group in f:
                    del f[group]
        else:
            with h5py.File(tmp, "w") as f:
                f.attrs["layout"] = LAYOUT
                f.attrs["layout_version"] = LAYOUT_VERSION
        ds.to_netcdf(tmp, mode="a", group=group, engine="h5netcdf", invalid_netcdf=True)


def read_dataset(path: str | Path, group: str) -> xr.Dataset:
    """Read group ``group`` of a session file into memory."""
    path = Path(path)
    group = _clean_group(group)
    if not path.is_file():
        raise InputError(
            f"session file {path} does not exist; run the pipeline step that writes it first"
        )
    with h5py.File(path, "r") as f:
        _check_layout(f, path)
        if group not in f:
            raise InputError(f"{path} has no dataset {group!r}; it has {_groups(f)}")
    with xr.open_dataset(path, group=group, engine="h5netcdf") as ds:
        out = ds.load()
    out.attrs = _python_attrs(dict(out.attrs))
    for name in out.variables:
        out[name].attrs = _python_attrs(dict(out[name].attrs))
    return out


def _groups(f: h5py.File) -> list[str]:
    """Groups that hold an xarray dataset (they have dimension scales or variables)."""
    found: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group) and any(isinstance(v, h5py.Dataset) for v in obj.values()):
            found.append(name)

    f.visititems(visit)
    return sorted(found)


def list_datasets(path: str | Path) -> list[str]:
    """The dataset groups in a session file (empty list if the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    with h5py.File(path, "r") as f:
        _check_layout(f, path)
        return _groups(f)
