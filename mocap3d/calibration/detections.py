"""Detected corners of one camera, and their cache on disk.

:class:`CameraDetections` is what :func:`mocap3d.calibration.detect.detect_cameras` returns
per camera. The cache keeps them in ``<cache_dir>/<camera>-<key>.npz``, the key being a hash
of the footage's path, size and modification time, the board spec, the stride, the detector
options and the detector version, so that changed footage or settings never read stale
corners.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mocap3d.calibration.board import BoardSpec
from mocap3d.calibration.footage import Footage
from mocap3d.io.atomic import atomic_path

log = logging.getLogger(__name__)

DETECTOR_VERSION = 5


@dataclass(frozen=True)
class CameraDetections:
    """The corners found in one camera's footage.

    Attributes
    ----------
    camera : str
    source : str
        The footage path.
    image_size : (int, int)
        Width, height in pixels.
    n_examined : int
        Frames looked at (every ``stride``-th frame).
    stride : int
    frames : (n_views,) int64 ndarray
        Footage frame index of every view kept (≥ ``min_corners`` corners).
    corners : (n_views, n_corners, 2) float64 ndarray
        Pixel position of every board corner in those frames; NaN where not found.
    marker_frames : int
        Frames in which markers of the spec's dictionary were seen (with or without corners).
    """

    camera: str
    source: str
    image_size: tuple[int, int]
    n_examined: int
    stride: int
    frames: np.ndarray
    corners: np.ndarray
    marker_frames: int

    @property
    def n_views(self) -> int:
        return len(self.frames)

    def to_dataarray(self) -> Any:
        """The corners as ``xarray.DataArray`` with dims ``(frame, corner, space)``."""
        import xarray as xr

        return xr.DataArray(
            self.corners,
            dims=("frame", "corner", "space"),
            coords={
                "frame": self.frames,
                "corner": np.arange(self.corners.shape[1]),
                "space": ["x", "y"],
            },
            attrs={"camera": self.camera, "image_size": list(self.image_size), "unit": "px"},
            name="corners",
        )


def cache_file(
    cache_dir: Path, footage: Footage, spec: BoardSpec, stride: int, options: Any
) -> Path:
    key = json.dumps(
        {
            "footage": footage.fingerprint(),
            "spec": spec.model_dump(exclude={"name"}),
            "stride": stride,
            "options": options.key(),
            "version": DETECTOR_VERSION,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return cache_dir / f"{footage.camera}-{digest}.npz"


def save_cache(path: Path, det: CameraDetections) -> None:
    meta = {
        "camera": det.camera,
        "source": det.source,
        "image_size": list(det.image_size),
        "n_examined": det.n_examined,
        "stride": det.stride,
        "marker_frames": det.marker_frames,
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, frames=det.frames, corners=det.corners, meta=np.array(json.dumps(meta))
        )


def load_cache(path: Path) -> CameraDetections | None:
    try:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            return CameraDetections(
                camera=meta["camera"],
                source=meta["source"],
                image_size=tuple(meta["image_size"]),
                n_examined=int(meta["n_examined"]),
                stride=int(meta["stride"]),
                frames=data["frames"],
                corners=data["corners"],
                marker_frames=int(meta["marker_frames"]),
            )
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable detection cache %s (%s)", path, exc)
        return None
