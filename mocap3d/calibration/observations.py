"""Board observations of several cameras on one frame axis.

Cameras triggered together record the same board pose in the same frame index, so frame
``k`` of every camera is one board pose. Cameras that are *not* triggered together (webcams)
need a key that says which frames belong together: a frame log ``<camera>.frames.csv`` beside
the footage (see :mod:`mocap3d.io.frames`; its ``counter`` column is the key), or keys given
directly (``frame_keys``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mocap3d.calibration.detect import CameraDetections
from mocap3d.errors import InputError

DIMS = ("view", "frame", "corner", "space")


def frame_keys_from_logs(footage: Mapping[str, str | Path]) -> dict[str, np.ndarray]:
    """Keys from frame logs beside the footage (``cam.mp4`` → ``cam.frames.csv``), if any.

    Cameras without a frame log are left out (their frame index is the key).
    """
    from mocap3d.io.frames import frames_path, read_frame_log

    keys = {}
    for name, path in footage.items():
        log_path = frames_path(Path(path))
        if log_path.is_file():
            keys[name] = read_frame_log(log_path).counter
    return keys


def board_observations(
    detections: Mapping[str, CameraDetections],
    *,
    frame_keys: Mapping[str, Any] | None = None,
) -> Any:
    """All cameras' corners on a common frame axis.

    Parameters
    ----------
    detections : mapping of str to CameraDetections
        Per camera, in rig order.
    frame_keys : mapping of str to (n_frames,) int array, optional
        Per camera, the key of every footage frame (frames with equal keys show the same
        board pose). Default: the footage frame index.

    Returns
    -------
    xarray.DataArray
        ``corners`` with dims ``(view, frame, corner, space)``: pixels, NaN where a camera did
        not see a corner in a frame. ``frame`` holds the keys; attribute ``image_sizes`` maps
        camera → [width, height].
    """
    import xarray as xr

    keys_of: dict[str, np.ndarray] = {}
    for name, det in detections.items():
        keys = det.frames
        if frame_keys is not None and name in frame_keys:
            table = np.asarray(frame_keys[name], dtype=np.int64).ravel()
            if det.n_views and det.frames.max() >= len(table):
                raise InputError(
                    f"camera {name!r}: the frame keys cover {len(table)} frames but the "
                    f"footage has a board in frame {int(det.frames.max())}; give one key per "
                    "footage frame (e.g. a complete frame log)"
                )
            keys = table[det.frames]
            if len(np.unique(keys)) != len(keys):
                raise InputError(f"camera {name!r}: two footage frames have the same frame key")
        keys_of[name] = keys
    all_keys = np.unique(np.concatenate([k for k in keys_of.values()] or [np.zeros(0, int)]))
    n_corners = next(iter(detections.values())).corners.shape[1]
    data = np.full((len(detections), len(all_keys), n_corners, 2), np.nan)
    for v, (name, det) in enumerate(detections.items()):
        data[v, np.searchsorted(all_keys, keys_of[name])] = det.corners
    return xr.DataArray(
        data,
        dims=DIMS,
        coords={
            "view": list(detections),
            "frame": all_keys,
            "corner": np.arange(n_corners),
            "space": ["x", "y"],
        },
        attrs={
            "image_sizes": {n: list(d.image_size) for n, d in detections.items()},
            "unit": "px",
        },
        name="corners",
    )


def as_array(observations: Any) -> np.ndarray:
    """``(view, frame, corner, space)`` values of an observations DataArray, checked."""
    missing = [d for d in DIMS if d not in observations.dims]
    if missing:
        raise InputError(
            f"board observations need dims {DIMS}; missing {missing} (found "
            f"{tuple(observations.dims)}); build them with board_observations()"
        )
    return np.asarray(observations.transpose(*DIMS).values, dtype=np.float64)


def frame_keys_from_sync_table(
    path: str | Path, cameras: Mapping[str, int]
) -> dict[str, np.ndarray]:
    """Frame keys from a synchronisation table like caliscope's ``timestamps.csv``.

    The table has one row per recorded frame with columns ``sync_index``, ``cam_id`` and
    ``frame_time``. A camera's video holds its frames in capture order, so video frame ``k``
    of camera ``cam_id`` is the row with the ``k``-th smallest ``frame_time`` of that camera,
    and its key is that row's ``sync_index`` (frames with the same ``sync_index`` were
    grouped as simultaneous by the recording software).

    Parameters
    ----------
    path : path
        The CSV file.
    cameras : mapping of str to int
        Camera name → ``cam_id`` in the table.
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise InputError(f"synchronisation table {path} does not exist")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    need = {"sync_index", "cam_id", "frame_time"}
    if not rows or not need <= set(rows[0]):
        raise InputError(f"{path}: expected columns {sorted(need)}")
    out = {}
    for name, cam_id in cameras.items():
        mine = [r for r in rows if int(r["cam_id"]) == int(cam_id)]
        if not mine:
            raise InputError(f"{path}: no rows for camera {name!r} (cam_id {cam_id})")
        mine.sort(key=lambda r: float(r["frame_time"]))
        out[name] = np.array([int(r["sync_index"]) for r in mine], dtype=np.int64)
    return out
