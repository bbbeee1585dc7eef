"""Triangulation: 3D keypoints from calibrated multi-camera 2D tracks.

Three methods, from fast to best (see ``docs/triangulation.md``):

- ``dlt`` — confidence-weighted DLT of every camera (:mod:`.dlt`);
- ``robust`` — each point's cameras chosen by reprojection consensus (:mod:`.robust`);
- ``spatiotemporal`` — robust start, then smooth motion, rigid bones and a robust reprojection
  loss over all frames (:mod:`.spatiotemporal`).

:func:`triangulate` turns a poses2d dataset into poses3d (mm, the calibration's world frame);
:mod:`.filters` cleans 3D trajectories and fills short gaps.
"""

from mocap3d.triangulation.dlt import Triangulated, triangulate_dlt
from mocap3d.triangulation.filters import (
    FilterReport,
    drop_fast,
    drop_jumps,
    drop_unreliable,
    interpolate_gaps,
    median_filter,
)
from mocap3d.triangulation.inputs import combine_views
from mocap3d.triangulation.pipeline import METHODS, Method, triangulate, triangulate_frames
from mocap3d.triangulation.robust import triangulate_robust
from mocap3d.triangulation.spatiotemporal import SpatiotemporalOptions

__all__ = [
    "METHODS",
    "FilterReport",
    "Method",
    "SpatiotemporalOptions",
    "Triangulated",
    "combine_views",
    "drop_fast",
    "drop_jumps",
    "drop_unreliable",
    "interpolate_gaps",
    "median_filter",
    "triangulate",
    "triangulate_dlt",
    "triangulate_frames",
    "triangulate_robust",
]
