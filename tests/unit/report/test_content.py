"""The content loader reads what the pipeline's steps write: here sync's frame-time maps."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mocap3d.io.project import open_project
from mocap3d.report.content import load_trial
from mocap3d.simulate.truth import read_truth
from tests.fixtures.outputs_project import shared_project


@pytest.mark.slow
def test_exposures_come_from_sync_frame_maps(tmp_path_factory):
    from mocap3d.sync.session import SyncOptions, sync_project_session
    from mocap3d.sync.store import read_frame_maps, write_session_sync

    src = shared_project(tmp_path_factory, videos=True)
    root = tmp_path_factory.mktemp("synced") / "project"
    shutil.copytree(src.root, root, ignore=shutil.ignore_patterns("outputs"))
    project = open_project(root)
    session = project.sessions()[0]
    result = sync_project_session(project, session, options=SyncOptions(anchor="auto"))
    write_session_sync(result, session.derived_path, session.outputs_dir / "sync")
    truth = read_truth(session.root / "truth" / "truth.h5")
    for name in session.trials():
        trial = load_trial(project, session, name)
        maps = read_frame_maps(session.derived_path, name)
        t = truth.trials[name]
        for v, view in enumerate(t.views):
            np.testing.assert_array_equal(trial.exposures[view], maps[view].frame_time)
            vf = t["video_frame"][v]
            expected = t["frame_time_s"][vf >= 0][np.argsort(vf[vf >= 0])]
            assert trial.exposures[view].shape == expected.shape  # 498 on the dropping camera
            # sync times the pulse's 50 % crossing: within half a 20 kHz sample of the edge
            assert np.abs(trial.exposures[view] - expected).max() < 30e-6
        assert trial.start_s == pytest.approx(t["pose_time_s"][0], abs=1e-3)


def test_analysis_results_feed_the_report(tmp_path_factory):
    """After `mocap3d analyze` (no stand-in): its angles, metrics and events, envelopes from the
    analysis' EMG chain; the NWB file of that content is valid."""
    import pynwb

    from mocap3d.analysis.project import analyze_project
    from mocap3d.io.nwb import write_nwb
    from mocap3d.io.nwb_read import read_nwb
    from mocap3d.report.content import session_info

    src = shared_project(tmp_path_factory, videos=False)
    root = tmp_path_factory.mktemp("analysed") / "project"
    shutil.copytree(src.root, root, ignore=shutil.ignore_patterns("outputs", "derived"))
    project = open_project(root)
    session = project.sessions()[0]
    analyze_project(project, poses="truth", figures=False)
    truth = read_truth(session.root / "truth" / "truth.h5")
    trials = [load_trial(project, session, name) for name in session.trials()]
    for trial in trials:
        t = truth.trials[trial.name]
        assert trial.poses3d is None and trial.angles is not None
        assert list(trial.angles["joint"].values)[:4] == t.angle_names
        assert trial.events["takeoff"] == pytest.approx(t.events["takeoff"], abs=1e-3)
        assert trial.metrics["jump_height_flight_mm"] == pytest.approx(
            t.attrs["jump_height_flight_mm"], rel=0.05
        )
        assert list(trial.envelopes["channel"].values) == ["emg_ga", "emg_ta", "emg_vl", "emg_bf"]
        assert str(trial.envelopes["muscle"].values[0]) == "gastrocnemius"
        # no frame times here: the trial spans what the analysis used (its frames), not up
        # to the next trial's marker
        frame = 1 / project.rig().fps
        assert trial.start_s == pytest.approx(t["pose_time_s"][0], abs=1e-3)
        assert trial.stop_s == pytest.approx(t["pose_time_s"][-1] + frame, abs=1e-3)
    path = write_nwb(
        tmp_path_factory.mktemp("nwb") / "s.nwb",
        trials,
        session=session_info(project, session, project.rig()),
    )
    assert pynwb.validate(path=str(path)) == []
    back = read_nwb(path).trial(trials[0].name)
    np.testing.assert_array_equal(back.angles.values, trials[0].angles.values)
    assert back.events == trials[0].events and back.metrics["events_source"] == "force"
