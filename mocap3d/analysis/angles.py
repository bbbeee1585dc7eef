"""Joint angles from 3D keypoints, by the rig's angle definitions, and their velocities.

Three kinds of angle (``[angles.<name>]`` in the rig, :class:`mocap3d.rig.AngleSpec`):

``flexion`` (points ``[a, b, c]``)
    the angle at ``b`` between the segments ``b→a`` and ``b→c``, in [0, π]; π is a straight
    joint (hip = iliac crest–hip–knee, knee = hip–knee–ankle, ankle = knee–ankle–MTP,
    MTP = ankle–MTP–toe).
``signed`` (points ``[a, b, c]``, ``axis = [p, q]``)
    the same angle measured in the plane perpendicular to the body axis ``p→q`` and signed by
    the right-hand rule about that axis: the rotation from ``b→a`` to ``b→c`` is positive when
    it turns counter-clockwise seen from ``q`` looking back at ``p``; in (−π, π].
``segment`` (points ``[p, q]``)
    the elevation of the segment ``p→q`` above the platform plane (world z up, see
    docs/simulate.md): +π/2 pointing straight up, 0 parallel to the platform, −π/2 straight
    down. The platform plane is the world x–y plane; "up" is −gravity (rig ``arena.gravity_axis``).

Angles are radians inside mocap3d and degrees in exports (:func:`to_degrees`). A NaN
coordinate in any keypoint of a definition gives NaN for that angle at that time; a keypoint
missing from the data gives NaN for the whole angle, with the reason in ``attrs["reasons"]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import xarray as xr

from mocap3d.errors import InputError
from mocap3d.rig import AngleSpec, Rig

__all__ = [
    "compute_angular_velocity",
    "compute_joint_angles",
    "flexion_angle",
    "segment_elevation",
    "signed_angle",
    "to_degrees",
]


def flexion_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at ``b`` between ``b→a`` and ``b→c``, radians in [0, π], for ``(..., 3)`` arrays.

    Computed as ``atan2(|u×v|, u·v)``, accurate near 0 and π (unlike ``arccos``). NaN in, NaN
    out; a zero-length segment gives NaN.
    """
    u = np.asarray(a, dtype=np.float64) - b
    v = np.asarray(c, dtype=np.float64) - b
    cross = np.linalg.norm(np.cross(u, v), axis=-1)
    dot = np.sum(u * v, axis=-1)
    degenerate = (np.linalg.norm(u, axis=-1) == 0) | (np.linalg.norm(v, axis=-1) == 0)
    return np.where(degenerate, np.nan, np.arctan2(cross, dot))


def signed_angle(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, axis_from: np.ndarray, axis_to: np.ndarray
) -> np.ndarray:
    """Angle at ``b`` from ``b→a`` to ``b→c`` about the axis ``axis_from→axis_to``, (−π, π].

    Both segments are projected on the plane perpendicular to the axis; the sign follows the
    right-hand rule about the axis. ``(..., 3)`` arrays; NaN in, NaN out.
    """
    n = np.asarray(axis_to, dtype=np.float64) - axis_from
    n = n / np.linalg.norm(n, axis=-1, keepdims=True)
    u = np.asarray(a, dtype=np.float64) - b
    v = np.asarray(c, dtype=np.float64) - b
    u = u - np.sum(u * n, axis=-1, keepdims=True) * n
    v = v - np.sum(v * n, axis=-1, keepdims=True) * n
    sin = np.sum(np.cross(u, v) * n, axis=-1)
    cos = np.sum(u * v, axis=-1)
    degenerate = (np.linalg.norm(u, axis=-1) == 0) | (np.linalg.norm(v, axis=-1) == 0)
    return np.where(degenerate, np.nan, np.arctan2(sin, cos))


def segment_elevation(p: np.ndarray, q: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Elevation of ``p→q`` above the plane perpendicular to ``up``, radians in [−π/2, π/2]."""
    d = np.asarray(q, dtype=np.float64) - p
    up = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    along = d @ up
    across = np.linalg.norm(d - along[..., None] * up, axis=-1)
    out = np.arctan2(along, across)
    return np.where(np.linalg.norm(d, axis=-1) == 0, np.nan, out)


def _definitions(definitions: Mapping[str, AngleSpec] | Rig) -> dict[str, AngleSpec]:
    if isinstance(definitions, Rig):
        return dict(definitions.angles)
    return {k: v if isinstance(v, AngleSpec) else AngleSpec(**v) for k, v in definitions.items()}


def _position(poses: xr.Dataset | xr.DataArray) -> xr.DataArray:
    pos = poses["position"] if isinstance(poses, xr.Dataset) else poses
    missing = [d for d in ("time", "space", "keypoint") if d not in pos.dims]
    if missing:
        raise InputError(
            f"joint angles need 3D positions with dims time, space, keypoint; the input lacks "
            f"{missing} (found dims {list(pos.dims)}) — pass a poses3d dataset"
        )
    if list(pos["space"].values) != ["x", "y", "z"]:
        raise InputError(
            f"joint angles need space = ['x', 'y', 'z'], found {list(pos['space'].values)}"
        )
    return pos


def compute_joint_angles(
    poses: xr.Dataset | xr.DataArray,
    definitions: Mapping[str, AngleSpec] | Rig,
    *,
    up: Literal["+z", "-z"] | None = None,
) -> xr.DataArray:
    """Joint angles over time from 3D keypoints.

    Parameters
    ----------
    poses : xarray.Dataset or DataArray
        A poses3d dataset (its ``position``) or a position array with dims ``time``, ``space``
        (x, y, z), ``keypoint`` and optionally ``individual``; mm (any length unit works).
    definitions : mapping of name to AngleSpec, or Rig
        The angles to compute (a rig's ``angles`` table).
    up : "+z" or "-z", optional
        World "up" for segment angles; default from the rig's ``arena.gravity_axis``
        (``-z`` gravity → ``+z`` up), else ``+z``.

    Returns
    -------
    xarray.DataArray ``angle``, dims (time, joint[, individual]), radians
        attrs: ``units = "rad"``, ``definitions`` (JSON text), ``reasons`` (joint → why it is
        all NaN, for joints whose keypoints are missing from the data).
    """
    defs = _definitions(definitions)
    if up is None:
        up = (
            "-z" if isinstance(definitions, Rig) and definitions.arena.gravity_axis == "z" else "+z"
        )
    up_vec = np.array([0.0, 0.0, 1.0 if up == "+z" else -1.0])
    pos = _position(poses)
    others = [d for d in pos.dims if d not in ("time", "space", "keypoint")]
    pos = pos.transpose("time", *others, "keypoint", "space")
    names = list(pos["keypoint"].values)
    shape = pos.shape[:-2]
    values = np.asarray(pos.values, dtype=np.float64)
    out = np.full((*shape, len(defs)), np.nan)
    reasons: dict[str, str] = {}
    for j, (joint, spec) in enumerate(defs.items()):
        needed = list(spec.points) + (list(spec.axis) if spec.axis else [])
        absent = [k for k in needed if k not in names]
        if absent:
            reasons[joint] = f"keypoint(s) {absent} not in the 3D data (it has {names})"
            continue
        p = [values[..., names.index(k), :] for k in spec.points]
        if spec.type == "flexion":
            out[..., j] = flexion_angle(p[0], p[1], p[2])
        elif spec.type == "signed":
            if spec.axis is None:
                raise InputError(f"signed angle {joint!r} needs an axis = [from, to]")
            ax = [values[..., names.index(k), :] for k in spec.axis]
            out[..., j] = signed_angle(p[0], p[1], p[2], ax[0], ax[1])
        else:
            out[..., j] = segment_elevation(p[0], p[1], up_vec)
    coords: dict[str, Any] = {"time": pos["time"].values, "joint": list(defs)}
    coords.update({str(d): pos[d].values for d in others})
    definitions_json = json.dumps(
        {k: {"type": v.type, "points": v.points, "axis": v.axis} for k, v in defs.items()}
    )
    return xr.DataArray(
        out,
        dims=("time", *others, "joint"),
        coords=coords,
        name="angle",
        attrs={"units": "rad", "definitions": definitions_json, "up": up, "reasons": reasons},
    ).transpose("time", "joint", *others)


def compute_angular_velocity(angles: xr.DataArray) -> xr.DataArray:
    """Time derivative of angles by central differences on the ``time`` coordinate.

    Parameters
    ----------
    angles : xarray.DataArray
        Angles in radians (or degrees) with a ``time`` dim whose coordinate is seconds.

    Returns
    -------
    xarray.DataArray, same dims, units per second (``rad/s`` for radians)
        Uneven time steps are handled (second-order differences); a NaN sample makes its
        neighbours' velocity NaN. Signed angles are unwrapped first, so a jump between +π and
        −π is not a spike.
    """
    if "time" not in angles.dims:
        raise InputError(f"angular velocity needs a 'time' dim, found {list(angles.dims)}")
    t = np.asarray(angles["time"].values, dtype=np.float64)
    if t.size < 3:
        return xr.full_like(angles, np.nan, dtype=np.float64)
    axis = angles.dims.index("time")
    period = 2 * np.pi if angles.attrs.get("units", "rad") == "rad" else 360.0
    v = np.asarray(angles.values, dtype=np.float64)
    finite = np.isfinite(v)
    unwrapped = np.where(finite, np.unwrap(np.where(finite, v, 0.0), axis=axis, period=period), v)
    d = np.gradient(unwrapped, t, axis=axis)
    units = angles.attrs.get("units", "rad")
    return angles.copy(data=d).assign_attrs(units=f"{units}/s").rename("angular_velocity")


def to_degrees(angles: xr.DataArray) -> xr.DataArray:
    """Angles (rad or rad/s) in degrees (deg or deg/s), for export."""
    units = str(angles.attrs.get("units", "rad"))
    if not units.startswith("rad"):
        return angles
    return (
        (angles * (180.0 / np.pi))
        .assign_attrs({**angles.attrs, "units": "deg" + units[3:]})
        .rename(angles.name)
    )
