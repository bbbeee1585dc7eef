"""Linear (DLT) triangulation of calibration points, for checks and the world frame.

The unweighted DLT of :mod:`mocap3d.triangulation.dlt` (the pose triangulator's, tested
against aniposelib), with the pixel shape checked against the calibration.
"""

from __future__ import annotations

import numpy as np

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError


def triangulate(group: CameraGroup, uv: np.ndarray) -> np.ndarray:
    """3D points from pixels in several cameras.

    Parameters
    ----------
    group : CameraGroup
    uv : (n_cameras, ..., 2) ndarray
        Pixels; NaN where a camera does not see the point.

    Returns
    -------
    (..., 3) ndarray
        World points, mm; NaN for points seen by fewer than two cameras.
    """
    from mocap3d.triangulation.dlt import triangulate_dlt

    uv = np.asarray(uv, dtype=np.float64)
    if uv.shape[0] != len(group) or uv.shape[-1] != 2:
        raise InputError(
            f"pixels must have shape ({len(group)}, ..., 2) for this calibration, found {uv.shape}"
        )
    return triangulate_dlt(group, uv).position
