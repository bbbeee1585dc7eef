"""A small simulated project ready for the pipeline: videos, DAQ file, the true calibration
and the simulated tracker's output as DeepLabCut files (what a lab with its own calibration
and DeepLabCut tracks would have), so tests run every stage but training."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mocap3d.io.dlc import write_dlc_tracks
from mocap3d.io.project import Project, open_project
from mocap3d.simulate.session import SessionOptions
from mocap3d.simulate.truth import read_truth
from mocap3d.tracking.analyze import tracks_path


def provide_tracks(project: Project) -> None:
    """Write each trial's simulated tracks per video row (dropped frames skipped), as
    DeepLabCut's analyze_videos would, where the pipeline looks for tracks."""
    for session in project.sessions():
        truth = read_truth(session.root / "truth" / "truth.h5")
        for trial, tt in truth.trials.items():
            ds = tt.poses2d(tracks=True)
            rows = tt["video_frame"]  # (view, slot) → video row, -1 dropped
            for v, view in enumerate(tt.views):
                slots = np.flatnonzero(rows[v] >= 0)
                slots = slots[np.argsort(rows[v][slots])]
                one = ds.sel(view=[view]).isel(time=slots)
                one = one.assign_coords(time=np.arange(len(slots)))
                write_dlc_tracks(one, tracks_path(session, trial, view), scorer="DLC_sim")


@pytest.fixture(scope="session")
def pipeline_project(tmp_path_factory) -> Path:
    """2 mice (control, perturbed) × 2 trials of 0.5 s on the demo rig."""
    from mocap3d.simulate.project import simulate_project

    root = tmp_path_factory.mktemp("pipeline") / "project"
    project = simulate_project(
        root, rig="demo", groups=["control", "perturbed"], subjects_per_group=1,
        trials_per_subject=2, seed=3, options=SessionOptions(duration_s=0.5, n_labelled=0),
    )  # fmt: skip
    shutil.copy(root / "truth" / "calibration.toml", project.calibration_path)
    provide_tracks(project)
    return root


@pytest.fixture
def project(pipeline_project, tmp_path) -> Project:
    """A private copy of the pipeline project."""
    dst = tmp_path / "project"
    shutil.copytree(pipeline_project, dst)
    return open_project(dst)
