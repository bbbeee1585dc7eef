"""Shared fixtures: a small simulated project (DAQ + truth, no video) and its trial inputs."""

from __future__ import annotations

import pytest

from mocap3d.analysis.inputs import load_session
from mocap3d.io.project import Project
from mocap3d.simulate.daq import DaqOptions
from mocap3d.simulate.session import SessionOptions
from mocap3d.simulate.truth import read_truth


@pytest.fixture(scope="session")
def sim_project(tmp_path_factory) -> Project:
    """2 groups × 1 mouse × 3 trials on the demo rig, 50 Hz mains hum on the EMG."""
    from mocap3d.simulate.project import simulate_project

    root = tmp_path_factory.mktemp("analysis") / "project"
    options = SessionOptions(videos=False, n_labelled=0, daq=DaqOptions(mains_hz=50))
    return simulate_project(
        root, rig="demo", groups=["control", "perturbed"], subjects_per_group=1,
        trials_per_subject=3, seed=7, options=options,
    )  # fmt: skip


@pytest.fixture(scope="session")
def sim_trials(sim_project):
    """``[(TrialInputs with truth poses, TrialTruth)]`` for every simulated trial."""
    rig = sim_project.rig()
    out = []
    for session in sim_project.sessions():
        truth = read_truth(session.root / "truth" / "truth.h5")
        for inputs in load_session(session, rig, poses="truth"):
            out.append((inputs, truth.trials[inputs.labels["trial"]]))
    return out


@pytest.fixture(scope="session")
def sim_rig(sim_project):
    return sim_project.rig()
