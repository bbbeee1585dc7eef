"""Frames chosen for labelling in simulated jump videos: the rare-pose quota finds flight."""

from __future__ import annotations

import pytest

from mocap3d.io.project import open_project
from mocap3d.simulate.truth import read_truth
from mocap3d.tracking.frames import motion_rare, select_frames, video_features
from tests.unit.tracking.conftest import CAMERA

pytestmark = pytest.mark.slow


def test_rare_quota_puts_more_labels_on_the_jump_than_plain_kmeans(simulated):
    project = open_project(simulated)
    session = project.sessions()[0]
    truth = read_truth(session.root / "truth" / "truth.h5")
    plain_in_air, quota_in_air, n_total = 0, 0, 0
    for trial in session.trials():
        tt = truth.trials[trial]
        t = tt.arrays["frame_time_s"]
        ev = tt.events
        airborne = (t >= ev["pushoff_start"]) & (t <= ev["landing_end"])  # push-off to landing
        feats = video_features(session.video_path(trial, CAMERA))
        assert len(feats.frames) == len(t)
        rare = motion_rare(feats.motion, quantile=0.9)
        # motion energy finds the jump: most high-motion frames are in it
        assert airborne[rare].mean() > 0.5
        plain = select_frames(feats.features, 12, seed=0)
        quota = select_frames(feats.features, 12, rare=rare, rare_fraction=0.25, seed=0)
        plain_in_air += int(airborne[plain].sum())
        quota_in_air += int(airborne[quota].sum())
        n_total += 12
        assert len(quota) == 12
    assert quota_in_air > plain_in_air
    assert quota_in_air >= 0.25 * n_total
