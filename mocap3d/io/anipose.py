"""Anipose's ``calibration.toml``: read and write a :class:`~mocap3d.camera.CameraGroup`.

The format (as aniposelib 0.8.0 writes it)::

    [cam_0]
    name = "side_left"
    size = [1280, 1024]                    # width, height
    matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    distortions = [k1, k2, p1, p2, k3]     # 4 values and fisheye = true for fisheye cameras
    rotation = [rx, ry, rz]                # Rodrigues vector, world → camera
    translation = [tx, ty, tz]             # mm
    fisheye = true                         # optional

    [metadata]                             # free-form; kept as is

Cameras keep the file's ``cam_<n>`` order by number (aniposelib sorts the keys as text, which
puts ``cam_10`` before ``cam_2``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from mocap3d.camera import Camera, CameraGroup
from mocap3d.errors import InputError
from mocap3d.io.atomic import write_text_atomic

_CAM_KEY = re.compile(r"^cam_(\d+)$")
_REQUIRED = ("name", "size", "matrix", "distortions", "rotation", "translation")


def read_calibration(path: str | Path) -> CameraGroup:
    """Read an Anipose ``calibration.toml`` into a :class:`CameraGroup`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"calibration file {path} does not exist; make one with "
            "`mocap3d calibrate` or give the path of an Anipose calibration.toml"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"calibration file {path} is not valid TOML: {exc}") from None
    return calibration_from_dict(data, source=str(path))


def calibration_from_dict(data: dict[str, Any], *, source: str = "calibration") -> CameraGroup:
    """Build a group from the parsed TOML of an Anipose calibration."""
    metadata = data.get("metadata", {})
    tables = [(k, v) for k, v in data.items() if k != "metadata"]
    if not tables:
        raise InputError(f"{source}: no camera tables ([cam_0], [cam_1] …) found")
    not_tables = [k for k, v in tables if not isinstance(v, dict)]
    if not_tables:
        raise InputError(f"{source}: expected camera tables, found plain keys {not_tables}")
    if all(_CAM_KEY.match(k) for k, _ in tables):
        tables.sort(key=lambda kv: int(_CAM_KEY.match(kv[0]).group(1)))  # type: ignore[union-attr]
    cameras = [_camera_from_table(key, table, source) for key, table in tables]
    return CameraGroup(tuple(cameras), metadata if isinstance(metadata, dict) else {})


def _camera_from_table(key: str, table: dict[str, Any], source: str) -> Camera:
    missing = [f for f in _REQUIRED if f not in table]
    if missing:
        raise InputError(
            f"{source}: [{key}] lacks {missing}; an Anipose camera table has {list(_REQUIRED)}"
        )
    fisheye = bool(table.get("fisheye", False))
    try:
        return Camera.from_rvec(
            str(table["name"]),
            tuple(table["size"]),
            np.asarray(table["matrix"], dtype=np.float64),
            np.asarray(table["distortions"], dtype=np.float64).ravel(),
            np.asarray(table["rotation"], dtype=np.float64),
            np.asarray(table["translation"], dtype=np.float64),
            model="fisheye" if fisheye else "pinhole",
        )
    except InputError as exc:
        raise InputError(f"{source}: [{key}]: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{source}: [{key}] has a malformed value: {exc}") from None


def calibration_to_dict(group: CameraGroup) -> dict[str, Any]:
    """The TOML structure of :func:`write_calibration`."""
    out: dict[str, Any] = {}
    for i, cam in enumerate(group):
        table: dict[str, Any] = {
            "name": cam.name,
            "size": list(cam.size),
            "matrix": cam.K.tolist(),
            "distortions": cam.dist.tolist(),
            "rotation": cam.rvec.tolist(),
            "translation": cam.t.tolist(),
        }
        if cam.model == "fisheye":
            table["fisheye"] = True
        out[f"cam_{i}"] = table
    out["metadata"] = _toml_safe(dict(group.metadata))
    return out


def write_calibration(group: CameraGroup, path: str | Path) -> None:
    """Write ``group`` as an Anipose ``calibration.toml`` (atomically)."""
    write_text_atomic(path, tomli_w.dumps(calibration_to_dict(group)))


def _toml_safe(value: Any) -> Any:
    """Metadata as TOML can hold it: numpy scalars/arrays become lists, None is dropped."""
    if isinstance(value, dict):
        return {str(k): _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_toml_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
