"""Anipose's pose-3d CSV: one row per frame, so existing Anipose analysis scripts read our 3D.

Columns, as Anipose's ``triangulate`` writes them (``anipose/triangulate.py``): for each body
part ``<bp>`` in order ``<bp>_x, <bp>_y, <bp>_z`` (mm), ``<bp>_error`` (mean reprojection
error, px), ``<bp>_ncams`` (cameras used), ``<bp>_score`` (lowest 2D confidence among them);
then ``M_00 … M_22`` and ``center_0 … center_2`` (the rotation and origin Anipose applies when
its config defines axes — identity and zero for us, since points are already in the
calibration's world frame), and ``fnum`` (frame number). Missing values are empty cells.
Anipose writes ``_ncams`` as NaN where fewer than two cameras were used; we write the count,
0 where there is no point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from mocap3d.datasets import make_poses3d, validate_poses3d
from mocap3d.errors import InputError
from mocap3d.io.atomic import atomic_path

FIELDS = ("x", "y", "z", "error", "ncams", "score")


def _frame_numbers(ds: xr.Dataset) -> np.ndarray:
    fps = ds.attrs.get("fps")
    t = np.asarray(ds.time.values, dtype=np.float64)
    if ds.attrs.get("time_unit") == "frame":
        return np.rint(t).astype(np.int64)
    if ds.attrs.get("time_reference") == "frame" and fps:
        return np.rint(t * float(fps)).astype(np.int64)
    return np.arange(len(t), dtype=np.int64)


def write_pose3d_csv(ds: xr.Dataset, path: str | Path) -> None:
    """Write a single-individual poses3d dataset as an Anipose pose-3d CSV (atomically).

    ``fnum`` is the frame number (``time × fps`` for frame-referenced data, else the row
    index). Variables ``score`` and ``reprojection_error`` may be absent (empty columns).
    """
    import pandas as pd

    ds = validate_poses3d(ds)
    path = Path(path)
    if ds.sizes["individual"] != 1:
        raise InputError(
            f"Anipose's pose-3d CSV holds one animal; the dataset has individuals "
            f"{list(ds.individual.values)} — write an .h5 file, or select one individual"
        )
    one = ds.isel(individual=0)
    columns: dict[str, np.ndarray] = {}
    n = one.sizes["time"]
    for kp in one.keypoint.values:
        p = one.position.sel(keypoint=kp).transpose("time", "space").values
        for i, axis in enumerate("xyz"):
            columns[f"{kp}_{axis}"] = p[:, i]
        columns[f"{kp}_error"] = (
            one.reprojection_error.sel(keypoint=kp).values
            if "reprojection_error" in one
            else np.full(n, np.nan)
        )
        columns[f"{kp}_ncams"] = one.n_views.sel(keypoint=kp).values.astype(np.int64)
        columns[f"{kp}_score"] = (
            one["score"].sel(keypoint=kp).values if "score" in one else np.full(n, np.nan)
        )
    for i in range(3):
        for j in range(3):
            columns[f"M_{i}{j}"] = np.full(n, float(i == j))
    for i in range(3):
        columns[f"center_{i}"] = np.zeros(n)
    columns["fnum"] = _frame_numbers(ds)
    frame = pd.DataFrame(columns)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def read_pose3d_csv(path: str | Path, *, fps: float | None = None) -> xr.Dataset:
    """Read an Anipose pose-3d CSV into a poses3d dataset.

    Body parts are the prefixes of the ``_x`` columns, in file order. ``fnum`` gives the frame
    numbers (``time = fnum / fps``, or ``fnum`` in frames without ``fps``). A non-identity
    ``M``/``center`` (Anipose's re-oriented axes) is kept in the attributes ``anipose_M`` and
    ``anipose_center``; the points are returned as stored.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"pose-3d CSV {path} does not exist")
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable CSV file: {exc}") from None
    cols = list(df.columns)
    bodyparts = [c[:-2] for c in cols if c.endswith("_x")]
    if not bodyparts:
        raise InputError(
            f"{path} has no '<bodypart>_x' columns; is it an Anipose pose-3d CSV? "
            f"Columns found: {cols[:8]}"
        )
    missing = [f"{bp}_{a}" for bp in bodyparts for a in "yz" if f"{bp}_{a}" not in df]
    if missing:
        raise InputError(f"{path} lacks columns {missing} (every body part needs _x, _y, _z)")
    n = len(df)

    def col(name: str, default: float = np.nan) -> np.ndarray:
        return np.asarray(df[name], dtype=np.float64) if name in df else np.full(n, default)

    pos = np.stack(
        [np.stack([col(f"{bp}_{a}") for a in "xyz"], axis=-1) for bp in bodyparts], axis=1
    )  # (T, K, 3)
    err = np.stack([col(f"{bp}_error") for bp in bodyparts], axis=1)
    ncams = np.nan_to_num(np.stack([col(f"{bp}_ncams", 0.0) for bp in bodyparts], axis=1))
    score = np.stack([col(f"{bp}_score") for bp in bodyparts], axis=1)
    fnum = col("fnum") if "fnum" in df else np.arange(n, dtype=np.float64)
    attrs: dict[str, Any] = {"source_file": str(path)}
    if all(f"M_{i}{j}" in df for i in range(3) for j in range(3)) and n:
        M = np.array([[df[f"M_{i}{j}"].iloc[0] for j in range(3)] for i in range(3)], float)
        center = np.array(
            [df[f"center_{i}"].iloc[0] if f"center_{i}" in df else 0.0 for i in range(3)]
        )
        if not (np.allclose(M, np.eye(3)) and np.allclose(center, 0)):
            attrs["anipose_M"] = M.ravel().tolist()
            attrs["anipose_center"] = center.tolist()
    ds = make_poses3d(
        pos.transpose(0, 2, 1)[..., None],
        keypoints=bodyparts,
        reprojection_error=err[..., None],
        n_views=ncams[..., None],
        time=fnum / fps if fps else fnum,
        fps=fps,
        source_software="Anipose",
        **attrs,
    )
    ds.attrs["time_reference"] = "frame"
    if not fps:
        ds.attrs["time_unit"] = "frame"
    ds["score"] = (("time", "keypoint", "individual"), score[..., None])
    return ds
