"""Figures (matplotlib, PNG and SVG): calibration, tracking, the 3D skeleton, a trial's angles
with EMG and force, metrics by group. Each ``plot_*`` returns a Figure; :func:`save_figure`
writes it."""

from mocap3d.report.figures.calibration import (
    plot_camera_layout,
    plot_coverage,
    plot_reprojection_errors,
)
from mocap3d.report.figures.common import PHASES, phases, save_figure
from mocap3d.report.figures.groups import plot_group_metrics
from mocap3d.report.figures.signals import plot_trial_timeline
from mocap3d.report.figures.skeleton import key_times, plot_skeleton_frames
from mocap3d.report.figures.tracking import pck_curve, plot_confidence, plot_tracking_evaluation

__all__ = [
    "PHASES",
    "key_times",
    "pck_curve",
    "phases",
    "plot_camera_layout",
    "plot_confidence",
    "plot_coverage",
    "plot_group_metrics",
    "plot_reprojection_errors",
    "plot_skeleton_frames",
    "plot_tracking_evaluation",
    "plot_trial_timeline",
    "save_figure",
]
