"""Wide CSV tables: one row per frame of a trial, or one row per trial; units in the headers.

Per-trial kinematics (``<trial>.csv``)::

    frame, time_s, nose_x_mm, nose_y_mm, nose_z_mm, nose_error_px, nose_ncams, …,
    hip_angle_deg, knee_angle_deg, …

- ``time_s``: seconds on the session's master clock; ``frame``: row number in the trial.
- ``<keypoint>_x_mm`` …: 3D position in the calibration's world frame, mm;
  ``<keypoint>_error_px``: mean reprojection error; ``<keypoint>_ncams``: cameras used.
- ``<joint>_angle_deg``: joint angle, degrees (radians inside mocap3d).
- With several individuals every column but ``frame`` and ``time_s`` starts with
  ``<individual>.``.
- Empty cells are missing values (NaN). Numbers are written with full precision, so
  :func:`read_trial_csv` gives back the same numbers.

Per-session or project metrics (``metrics.csv``): one row per trial, index columns (``session``,
``trial``, ``group`` …) then the metrics as named by the analysis (``jump_height_mm`` …).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from mocap3d.datasets import DEFAULT_INDIVIDUAL, make_poses3d, validate_poses3d
from mocap3d.errors import InputError
from mocap3d.io.atomic import write_text_atomic
from mocap3d.results import validate_angles

POSITION_SUFFIX = {"x": "_x_mm", "y": "_y_mm", "z": "_z_mm"}
_COLUMN = re.compile(
    r"^(?:(?P<ind>[^.]+)\.)?(?P<name>.+?)(?P<suffix>_[xyz]_mm|_error_px|_ncams|_angle_deg)$"
)


def _prefix(individual: str, individuals: Sequence[str]) -> str:
    return "" if len(individuals) == 1 else f"{individual}."


def trial_table(poses3d: xr.Dataset | None, angles: xr.DataArray | None = None) -> pd.DataFrame:
    """One trial's 3D positions and joint angles as a wide table (see the module docstring).

    Parameters
    ----------
    poses3d : xarray.Dataset, optional
        poses3d (time, space, keypoint, individual), mm.
    angles : xarray.DataArray, optional
        (time, joint[, individual]), radians; on the same time base as ``poses3d``.

    Returns
    -------
    pandas.DataFrame
        One row per time point.

    Raises
    ------
    InputError
        Neither input given, or the two on different time bases.
    """
    if poses3d is None and angles is None:
        raise InputError("trial_table needs poses3d, angles or both")
    cols: dict[str, np.ndarray] = {}
    time: np.ndarray = np.zeros(0)
    if poses3d is not None:
        p = validate_poses3d(poses3d)
        time = p["time"].values
        inds = [str(i) for i in p["individual"].values]
        for ind in inds:
            pre = _prefix(ind, inds)
            for kp in [str(k) for k in p["keypoint"].values]:
                one = p.sel(keypoint=kp, individual=ind)
                for ax, suffix in POSITION_SUFFIX.items():
                    cols[f"{pre}{kp}{suffix}"] = one["position"].sel(space=ax).values
                cols[f"{pre}{kp}_error_px"] = one["reprojection_error"].values
                cols[f"{pre}{kp}_ncams"] = one["n_views"].values.astype(np.int64)
    if angles is not None:
        a = validate_angles(angles)
        if poses3d is not None and (
            a.sizes["time"] != time.size or not np.allclose(a["time"].values, time, atol=1e-9)
        ):
            raise InputError(
                f"angles ({a.sizes['time']} time points from {a['time'].values[0]:.6f} s) and "
                f"poses3d ({time.size} from {time[0]:.6f} s) are on different time bases; "
                "compute the angles from these poses"
            )
        time = a["time"].values
        inds = [str(i) for i in a["individual"].values]
        for ind in inds:
            pre = _prefix(ind, inds)
            for joint in [str(j) for j in a["joint"].values]:
                cols[f"{pre}{joint}_angle_deg"] = np.degrees(
                    a.sel(joint=joint, individual=ind).values
                )
    return pd.DataFrame({"frame": np.arange(time.size), "time_s": time, **cols})


def write_trial_csv(
    path: str | Path, poses3d: xr.Dataset | None, angles: xr.DataArray | None = None
) -> Path:
    """Write :func:`trial_table` as CSV, atomically; returns ``path``."""
    return write_csv(path, trial_table(poses3d, angles), index=False)


def write_csv(path: str | Path, table: pd.DataFrame, *, index: bool = True) -> Path:
    """Write a table as CSV with full float precision and empty cells for NaN, atomically."""
    path = Path(path)
    buf = io.StringIO()
    table.to_csv(buf, index=index, float_format="%.17g", na_rep="", lineterminator="\n")
    write_text_atomic(path, buf.getvalue())
    return path


def read_trial_csv(path: str | Path) -> tuple[xr.Dataset | None, xr.DataArray | None]:
    """Read a trial CSV back into poses3d (mm) and angles (radians), either None if absent."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"table {path} does not exist")
    df = pd.read_csv(path, float_precision="round_trip")
    if "time_s" not in df.columns:
        raise InputError(f"{path}: no 'time_s' column; is it a mocap3d trial table?")
    time = df["time_s"].to_numpy(np.float64)
    parsed: dict[tuple[str, str, str], str] = {}
    for col in df.columns:
        m = _COLUMN.match(col)
        if m:
            parsed[(m["ind"] or DEFAULT_INDIVIDUAL, m["name"], m["suffix"])] = col
    inds = list(dict.fromkeys(k[0] for k in parsed))
    kps = list(dict.fromkeys(k[1] for k in parsed if k[2] == "_x_mm"))
    joints = list(dict.fromkeys(k[1] for k in parsed if k[2] == "_angle_deg"))

    def column(ind: str, name: str, suffix: str) -> np.ndarray:
        key = (ind, name, suffix)
        if key not in parsed:
            raise InputError(f"{path}: column for {name}{suffix} ({ind}) is missing")
        return df[parsed[key]].to_numpy(np.float64)

    poses3d = None
    if kps:
        pos = np.stack(
            [
                np.stack(
                    [np.stack([column(i, k, s) for s in POSITION_SUFFIX.values()], 1) for k in kps],
                    -1,
                )
                for i in inds
            ],
            -1,
        )
        err = np.stack([np.stack([column(i, k, "_error_px") for k in kps], -1) for i in inds], -1)
        nv = np.stack([np.stack([column(i, k, "_ncams") for k in kps], -1) for i in inds], -1)
        poses3d = make_poses3d(
            pos, keypoints=kps, individuals=inds, time=time, reprojection_error=err, n_views=nv
        )
    angles = None
    if joints:
        data = np.stack(
            [np.stack([column(i, j, "_angle_deg") for j in joints], -1) for i in inds], -1
        )
        angles = xr.DataArray(
            np.radians(data),
            dims=("time", "joint", "individual"),
            coords={"time": time, "joint": joints, "individual": inds},
            name="angle",
            attrs={"units": "rad"},
        )
    return poses3d, angles


def read_csv_table(path: str | Path, *, index: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Read a metrics CSV (written by :func:`write_csv`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"table {path} does not exist")
    return pd.read_csv(path, index_col=index, float_precision="round_trip")
