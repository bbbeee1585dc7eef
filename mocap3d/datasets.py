"""The data model: one validated constructor per dataset, with named dimensions.

Dimension names follow the ``movement`` toolbox (``time``, ``space``, ``keypoint``,
``individual``) plus ``view`` for cameras. Never rely on axis order: index by name.

========  ===============================================================  =====
dataset   variables (dims)                                                 units
========  ===============================================================  =====
poses2d   position (view, time, space=[x, y], keypoint, individual),       px
          confidence (view, time, keypoint, individual)
poses3d   position (time, space=[x, y, z], keypoint, individual),          mm
          reprojection_error (time, keypoint, individual) [px],
          n_views (time, keypoint, individual)
========  ===============================================================  =====

``time`` is seconds on the session's master clock once synchronised; before that it is
``frame / fps`` (attribute ``time_reference = "frame"``), or the frame number when the frame
rate of 2D tracks is unknown (``time_unit = "frame"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from mocap3d.errors import InputError

POSES2D_DIMS = {
    "position": ("view", "time", "space", "keypoint", "individual"),
    "confidence": ("view", "time", "keypoint", "individual"),
}
POSES3D_DIMS = {
    "position": ("time", "space", "keypoint", "individual"),
    "reprojection_error": ("time", "keypoint", "individual"),
    "n_views": ("time", "keypoint", "individual"),
}
DEFAULT_INDIVIDUAL = "individual_0"


def _time_coord(
    n: int, fps: float | None, time: Any, *, frame_numbers: bool = False
) -> tuple[np.ndarray, str, str]:
    """(time, time_reference, time_unit): given times (s, session clock), frame / fps, or —
    without either, where ``frame_numbers`` allows it — frame numbers."""
    if time is not None:
        t = np.asarray(time, dtype=np.float64)
        if t.shape != (n,):
            raise InputError(f"time must have {n} values (one per frame), found shape {t.shape}")
        return t, "session", "s"
    if fps is None and frame_numbers:
        return np.arange(n, dtype=np.float64), "frame", "frame"
    if fps is None or not fps > 0:
        raise InputError(f"give either time stamps or a frame rate fps > 0, found fps={fps!r}")
    return np.arange(n) / float(fps), "frame", "s"


def _attrs(
    fps: float | None, time_reference: str, time_unit: str, extra: Mapping[str, Any]
) -> dict[str, Any]:
    attrs: dict[str, Any] = {"time_unit": time_unit, "time_reference": time_reference}
    if fps is not None:
        attrs["fps"] = float(fps)
    attrs.update({k: v for k, v in extra.items() if v is not None})
    return attrs


def _check_shape(name: str, arr: np.ndarray, dims: Sequence[str], sizes: dict[str, int]) -> None:
    expected = tuple(sizes[d] for d in dims)
    if arr.shape != expected:
        named = ", ".join(f"{d}={sizes[d]}" for d in dims)
        raise InputError(f"{name} must have shape {expected} ({named}), found {arr.shape}")


def make_poses2d(
    position: Any,
    confidence: Any | None = None,
    *,
    views: Sequence[str],
    keypoints: Sequence[str],
    individuals: Sequence[str] = (DEFAULT_INDIVIDUAL,),
    fps: float | None = None,
    time: Any = None,
    source_software: str = "",
    **attrs: Any,
) -> xr.Dataset:
    """Build a validated poses2d dataset.

    Parameters
    ----------
    position : array_like, (view, time, space=2, keypoint, individual)
        Pixel coordinates; NaN where a keypoint was not tracked.
    confidence : array_like, (view, time, keypoint, individual), optional
        Detector confidence in [0, 1]; defaults to 1 where position is finite, NaN elsewhere.
    views, keypoints, individuals : sequence of str
        Coordinate labels.
    fps : float, optional
        Frame rate; used for ``time`` when ``time`` is not given.
    time : array_like, (time,), optional
        Time stamps in seconds on the session clock.
    source_software : str
        Where the tracks come from (e.g. ``"DeepLabCut"``, ``"mocap3d.simulate"``).
    """
    pos = np.asarray(position, dtype=np.float64)
    if pos.ndim != 5:
        raise InputError(
            f"poses2d position must be 5-D {POSES2D_DIMS['position']}, "
            f"found {pos.ndim}-D shape {pos.shape}"
        )
    sizes = {
        "view": len(views),
        "time": pos.shape[1],
        "space": 2,
        "keypoint": len(keypoints),
        "individual": len(individuals),
    }
    _check_shape("poses2d position", pos, POSES2D_DIMS["position"], sizes)
    if confidence is None:
        conf = np.where(np.isfinite(pos).all(axis=2), 1.0, np.nan)
    else:
        conf = np.asarray(confidence, dtype=np.float64)
        _check_shape("poses2d confidence", conf, POSES2D_DIMS["confidence"], sizes)
    t, ref, unit = _time_coord(sizes["time"], fps, time, frame_numbers=True)
    ds = xr.Dataset(
        {
            "position": (POSES2D_DIMS["position"], pos),
            "confidence": (POSES2D_DIMS["confidence"], conf),
        },
        coords={
            "view": list(views),
            "time": t,
            "space": ["x", "y"],
            "keypoint": list(keypoints),
            "individual": list(individuals),
        },
        attrs=_attrs(
            fps,
            ref,
            unit,
            {"space_unit": "px", "source_software": source_software, "ds_type": "poses2d", **attrs},
        ),
    )
    return validate_poses2d(ds)


def make_poses3d(
    position: Any,
    *,
    keypoints: Sequence[str],
    reprojection_error: Any | None = None,
    n_views: Any | None = None,
    individuals: Sequence[str] = (DEFAULT_INDIVIDUAL,),
    fps: float | None = None,
    time: Any = None,
    source_software: str = "mocap3d",
    **attrs: Any,
) -> xr.Dataset:
    """Build a validated poses3d dataset.

    Parameters
    ----------
    position : array_like, (time, space=3, keypoint, individual)
        World coordinates in mm; NaN where a keypoint could not be reconstructed.
    reprojection_error : array_like, (time, keypoint, individual), optional
        Mean reprojection error over the cameras used, px; NaN when unknown.
    n_views : array_like, (time, keypoint, individual), optional
        Number of cameras used per point; 0 where not reconstructed.
    """
    pos = np.asarray(position, dtype=np.float64)
    if pos.ndim != 4:
        raise InputError(
            f"poses3d position must be 4-D {POSES3D_DIMS['position']}, "
            f"found {pos.ndim}-D shape {pos.shape}"
        )
    sizes = {
        "time": pos.shape[0],
        "space": 3,
        "keypoint": len(keypoints),
        "individual": len(individuals),
    }
    _check_shape("poses3d position", pos, POSES3D_DIMS["position"], sizes)
    shape = (sizes["time"], sizes["keypoint"], sizes["individual"])
    err = (
        np.full(shape, np.nan)
        if reprojection_error is None
        else np.asarray(reprojection_error, dtype=np.float64)
    )
    nv = np.zeros(shape, np.int16) if n_views is None else np.asarray(n_views).astype(np.int16)
    _check_shape("poses3d reprojection_error", err, POSES3D_DIMS["reprojection_error"], sizes)
    _check_shape("poses3d n_views", nv, POSES3D_DIMS["n_views"], sizes)
    t, ref, unit = _time_coord(sizes["time"], fps, time)
    ds = xr.Dataset(
        {
            "position": (POSES3D_DIMS["position"], pos),
            "reprojection_error": (POSES3D_DIMS["reprojection_error"], err),
            "n_views": (POSES3D_DIMS["n_views"], nv),
        },
        coords={
            "time": t,
            "space": ["x", "y", "z"],
            "keypoint": list(keypoints),
            "individual": list(individuals),
        },
        attrs=_attrs(
            fps,
            ref,
            unit,
            {"space_unit": "mm", "source_software": source_software, "ds_type": "poses3d", **attrs},
        ),
    )
    ds["reprojection_error"].attrs["units"] = "px"
    return validate_poses3d(ds)


def validate_dims(ds: xr.Dataset, required: Mapping[str, Sequence[str]], *, what: str) -> None:
    """Check that ``ds`` has every variable of ``required`` with those dims, in any order.

    Raises one :class:`InputError` listing everything that is missing.
    """
    problems = []
    for var, dims in required.items():
        if var not in ds:
            problems.append(f"variable {var!r} is missing")
            continue
        missing = [d for d in dims if d not in ds[var].dims]
        extra = [d for d in ds[var].dims if d not in dims]
        if missing:
            problems.append(f"{var!r} lacks dims {missing}")
        if extra:
            problems.append(f"{var!r} has unexpected dims {extra}")
    if problems:
        raise InputError(f"not a valid {what} dataset: " + "; ".join(problems))


def validate_poses2d(ds: xr.Dataset) -> xr.Dataset:
    """Check a poses2d dataset; returns it with variables in canonical dim order."""
    validate_dims(ds, POSES2D_DIMS, what="poses2d")
    if list(ds["space"].values) != ["x", "y"]:
        raise InputError(f"poses2d space must be ['x', 'y'], found {list(ds['space'].values)}")
    return ds.transpose(*POSES2D_DIMS["position"], ...)


def validate_poses3d(ds: xr.Dataset) -> xr.Dataset:
    """Check a poses3d dataset; returns it with variables in canonical dim order."""
    validate_dims(ds, POSES3D_DIMS, what="poses3d")
    if list(ds["space"].values) != ["x", "y", "z"]:
        raise InputError(f"poses3d space must be ['x', 'y', 'z'], found {list(ds['space'].values)}")
    return ds.transpose(*POSES3D_DIMS["position"], ...)
