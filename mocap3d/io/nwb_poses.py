"""The behaviour part of an NWB export: skeleton, 2D and 3D poses (ndx-pose 0.4), angles.

Used by :func:`mocap3d.io.nwb.write_nwb`; see its module docstring for the layout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from mocap3d._version import __version__
from mocap3d.results import SessionInfo

PIXEL_FRAME = "image pixels: origin at the centre of the top-left pixel, x right, y down"


def uniform_rate(t: np.ndarray, rate: float | None = None, *, tol: float = 1e-6) -> float | None:
    """The sampling rate if ``t`` is ``t0 + i / rate`` within ``tol`` periods, else None."""
    if t.size < 2 or not np.all(np.isfinite(t)):
        return None
    rate = rate or (t.size - 1) / float(t[-1] - t[0])
    err = np.abs(t - (t[0] + np.arange(t.size) / rate))
    return rate if float(err.max()) < tol / rate else None


def timing(t: np.ndarray, first: Any = None, rate: float | None = None) -> dict[str, Any]:
    """TimeSeries timing: ``starting_time`` + ``rate`` when regular, else timestamps (a link to
    ``first``, a series that already holds the same timestamps, when given)."""
    regular = uniform_rate(np.asarray(t, dtype=np.float64), rate)
    if regular is not None:
        return {"starting_time": float(t[0]), "rate": float(regular)}
    return {"timestamps": first if first is not None else np.asarray(t, dtype=np.float64)}


def compress(data: np.ndarray) -> Any:
    """gzip-compressed data for HDF5 (small arrays are stored as they are)."""
    from hdmf.backends.hdf5.h5_utils import H5DataIO

    if data.size < 1024:
        return data
    return H5DataIO(data, compression="gzip", compression_opts=4, shuffle=True)


TAG = "mocap3d: "


def tag(**fields: Any) -> str:
    """Machine-readable ``comments`` of a series: what the reader needs to rebuild the data."""
    return TAG + json.dumps(fields, sort_keys=True)


def untag(comments: str | None) -> dict[str, Any]:
    """The fields of :func:`tag` (empty for series mocap3d did not write)."""
    if not comments or not comments.startswith(TAG):
        return {}
    return dict(json.loads(comments[len(TAG) :]))


def suffix(individual: str, individuals: Sequence[str]) -> str:
    """Name suffix of an individual's objects: empty when there is only one."""
    return "" if len(individuals) == 1 else f"_{individual}"


def _series(
    pos: xr.DataArray,
    keypoints: Sequence[str],
    *,
    what: str,
    unit: str,
    frame: str,
    confidence: xr.DataArray | None = None,
    confidence_definition: str = "",
) -> list[Any]:
    from ndx_pose import PoseEstimationSeries

    t = pos["time"].values
    out: list[Any] = []
    for k in keypoints:
        extra: dict[str, Any] = {}
        if confidence is not None:
            extra = {
                "confidence": confidence.sel(keypoint=k).values,
                "confidence_definition": confidence_definition,
            }
        out.append(
            PoseEstimationSeries(
                name=k,
                description=f"{what} of {k}",
                data=compress(pos.sel(keypoint=k).transpose("time", "space").values),
                unit=unit,
                reference_frame=frame,
                **timing(t, out[0] if out else None),
                **extra,
            )
        )
    return out


def add_poses(
    module: Any,
    *,
    session: SessionInfo,
    individuals: Sequence[str],
    devices: Mapping[str, Any],
    poses2d: xr.Dataset | None,
    poses3d: xr.Dataset | None,
    angles: xr.DataArray | None,
) -> None:
    """Add the skeletons, one ``MultiCameraPoseEstimation`` per individual, and the angles."""
    from ndx_pose import MultiCameraPoseEstimation, PoseEstimation, Skeleton, Skeletons
    from pynwb import TimeSeries

    kp = list(session.keypoints)
    edges = np.array([[kp.index(a), kp.index(b)] for a, b in session.bones], dtype=np.uint8)
    skeletons = {
        ind: Skeleton(name=ind, nodes=kp, edges=edges.reshape(-1, 2)) for ind in individuals
    }
    module.add(Skeletons(skeletons=list(skeletons.values())))
    for ind in individuals:
        sfx = suffix(ind, individuals)
        series3d: list[Any] = []
        if poses3d is not None:
            series3d = _series(
                poses3d["position"].sel(individual=ind),
                kp,
                what="3D position",
                unit="millimeters",
                frame=session.world_frame,
            )
            for var, unit in (("reprojection_error", "pixels"), ("n_views", "cameras")):
                module.add(
                    TimeSeries(
                        comments=tag(variable=var, individual=ind, keypoints=kp),
                        name=f"{var}{sfx}",
                        description=f"{var} of each keypoint (columns: {', '.join(kp)})",
                        data=compress(poses3d[var].sel(individual=ind, keypoint=kp).values),
                        unit=unit,
                        **timing(poses3d["time"].values, series3d[0]),
                    )
                )
        per_camera = []
        if poses2d is not None:
            source = str(poses2d.attrs.get("source_software") or "unknown")
            definition = str(poses2d.attrs.get("confidence_definition", "tracker likelihood 0–1"))
            for view in [str(v) for v in poses2d["view"].values]:
                series2d = _series(
                    poses2d["position"].sel(view=view, individual=ind),
                    kp,
                    what=f"2D position in camera {view}",
                    unit="pixels",
                    frame=PIXEL_FRAME,
                    confidence=poses2d["confidence"].sel(view=view, individual=ind),
                    confidence_definition=definition,
                )
                per_camera.append(
                    PoseEstimation(
                        name=view,
                        description=f"2D keypoints of {ind} in camera {view}",
                        pose_estimation_series=series2d,
                        device=devices[view],
                        skeleton=skeletons[ind],
                        source_software=source,
                    )
                )
        if series3d or per_camera:
            module.add(
                MultiCameraPoseEstimation(
                    name=f"MultiCameraPoseEstimation{sfx}",
                    description=f"3D keypoints of {ind}, triangulated from {len(devices)} cameras",
                    pose_estimation_series=series3d or None,
                    pose_estimations=per_camera or None,
                    skeleton=skeletons[ind],
                    source_software=str(
                        (poses3d.attrs.get("source_software") if poses3d is not None else None)
                        or "mocap3d"
                    ),
                    source_software_version=__version__,
                )
            )
        if angles is not None:
            first: Any = None
            for i, joint in enumerate(str(j) for j in angles["joint"].values):
                ts = TimeSeries(
                    comments=tag(joint=joint, index=i, individual=ind),
                    name=f"angle_{joint}{sfx}",
                    description=f"{joint} joint angle of {ind}",
                    data=angles.sel(joint=joint, individual=ind).values,
                    unit="radians",
                    **timing(angles["time"].values, first),
                )
                module.add(ts)
                if first is None:
                    first = ts
