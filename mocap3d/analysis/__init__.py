"""Jump analysis: joint angles, EMG, force, jump events and metrics, group comparisons.

Pure functions on xarray objects with named dims (``time``, ``channel``, ``keypoint`` …);
times are seconds on the master clock, angles radians inside and degrees in exports.
docs/analysis.md defines every metric.

>>> from mocap3d.analysis import compute_joint_angles, compute_force_metrics  # doctest: +SKIP
>>> angles = compute_joint_angles(poses3d, rig)                                # (time, joint)
>>> force = compute_force_metrics(force_n)            # .metrics, .events, .kinetics
"""

from mocap3d.analysis.angles import (
    compute_angular_velocity,
    compute_joint_angles,
    to_degrees,
)
from mocap3d.analysis.emg import (
    EmgSettings,
    OnsetSettings,
    compute_emg_envelope,
    compute_iemg,
    filter_emg,
    normalise_to_peak,
)
from mocap3d.analysis.emg_metrics import compute_emg_metrics
from mocap3d.analysis.emg_onsets import compute_emg_onsets
from mocap3d.analysis.force import (
    ForceSettings,
    compensate_platform_motion,
    compute_force_events,
    compute_quiet_stance,
)
from mocap3d.analysis.groups import (
    compare_all,
    compare_groups,
    hedges_g,
    metrics_table,
    read_metrics_table,
    summarise_groups,
    write_metrics_table,
)
from mocap3d.analysis.jump import (
    KinematicSettings,
    compute_angle_metrics,
    compute_kinematic_events,
    compute_phases,
)
from mocap3d.analysis.kinetics import compute_com_kinetics, compute_force_metrics
from mocap3d.analysis.project import analyze_project, analyze_recording
from mocap3d.analysis.trial import AnalysisSettings, TrialInputs, analyze_trial

__all__ = [
    "AnalysisSettings",
    "EmgSettings",
    "ForceSettings",
    "KinematicSettings",
    "OnsetSettings",
    "TrialInputs",
    "analyze_project",
    "analyze_recording",
    "analyze_trial",
    "compare_all",
    "compare_groups",
    "compensate_platform_motion",
    "compute_angle_metrics",
    "compute_angular_velocity",
    "compute_com_kinetics",
    "compute_emg_envelope",
    "compute_emg_metrics",
    "compute_emg_onsets",
    "compute_force_events",
    "compute_force_metrics",
    "compute_iemg",
    "compute_joint_angles",
    "compute_kinematic_events",
    "compute_phases",
    "compute_quiet_stance",
    "filter_emg",
    "hedges_g",
    "metrics_table",
    "normalise_to_peak",
    "read_metrics_table",
    "summarise_groups",
    "to_degrees",
    "write_metrics_table",
]
