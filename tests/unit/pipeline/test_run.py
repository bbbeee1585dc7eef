"""``run_pipeline`` / ``mocap3d run`` on a simulated project: accuracy against the truth,
incremental and resumable runs, failed trials, the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mocap3d.io.session import read_dataset
from mocap3d.pipeline import PipelineSettings, run_pipeline
from mocap3d.pipeline.run import state_path
from mocap3d.simulate.compare import match_times, poses3d_vs_truth
from mocap3d.simulate.truth import read_truth
from mocap3d.tracking.analyze import tracks_path

QUICK = PipelineSettings(report_videos=False)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mocap3d", *args], capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def statuses(result, stage):
    return sorted(o.status for o in result.outcomes if o.stage == stage)


@pytest.mark.slow
def test_every_stage_runs_and_recovers_the_truth(project):
    result = run_pipeline(project, QUICK)
    assert result.ok, result.failures
    assert statuses(result, "calibrate") == ["provided"]
    assert statuses(result, "track") == ["provided"] * 16
    assert statuses(result, "sync") == ["done"] * 2
    assert statuses(result, "triangulate") == ["done"] * 4
    assert statuses(result, "analyze") == statuses(result, "report") == ["done"]
    assert result.report_path is not None and result.report_path.is_file()

    # 3D keypoints against the simulator's: the simulated tracker has ~1 px noise and outliers
    err = poses3d_vs_truth(project)
    assert len(err) == 4 * 10
    assert err["median_mm"].median() < 1.0, err.groupby("keypoint")["median_mm"].median()
    assert err["p95_mm"].max() < 6.0
    # every reconstructed frame sits at its true instant (mid-exposure, master clock)
    session = project.sessions()[0]
    trial = session.trials()[0]
    rec = read_dataset(session.derived_path, f"trials/{trial}/poses3d")
    tt = read_truth(session.root / "truth" / "truth.h5").trials[trial]
    idx = match_times(rec["time"].values, tt["pose_time_s"], period=1e-4)
    assert (idx >= 0).all()
    # the analysis ran on the pipeline's 3D keypoints and found the true jump heights
    table = pd.read_csv(project.outputs_dir / "analysis" / "metrics.csv")
    assert len(table) == 4
    for s in project.sessions():
        truth = read_truth(s.root / "truth" / "truth.h5")
        for t, tt in truth.trials.items():
            row = table[(table.session == s.name) & (table.trial == t)].iloc[0]
            assert row["jump_height_impulse_mm"] == pytest.approx(tt.attrs["jump_height_mm"], 0.03)
            assert abs(row["kin_takeoff_s"] - tt.events["takeoff"]) < 0.004


@pytest.mark.slow
def test_second_run_skips_and_a_change_reruns_only_what_depends_on_it(project):
    first = run_pipeline(project, QUICK)
    assert first.ok
    again = run_pipeline(project, QUICK)
    assert statuses(again, "sync") == ["skipped"] * 2
    assert statuses(again, "triangulate") == ["skipped"] * 4
    assert statuses(again, "analyze") == statuses(again, "report") == ["skipped"]

    # new tracks for one camera of one trial: that trial again, then analysis and report
    session = project.sessions()[1]
    trial = session.trials()[0]
    path = tracks_path(session, trial, "front")
    df = pd.read_hdf(path)
    df.iloc[:, 0] += 0.5
    df.to_hdf(path, key="df_with_missing", mode="w", format="table")
    changed = run_pipeline(project, QUICK)
    done = [(o.session, o.trial) for o in changed.outcomes if o.stage == "triangulate"
            and o.status == "done"]  # fmt: skip
    assert done == [(session.name, trial)]
    assert statuses(changed, "analyze") == ["done"]

    # a setting that changes every triangulation
    other = run_pipeline(project, PipelineSettings(report_videos=False, min_score=0.6))
    assert statuses(other, "triangulate") == ["done"] * 4
    assert statuses(other, "sync") == ["skipped"] * 2


@pytest.mark.slow
def test_an_interrupted_run_resumes_where_it_stopped(project):
    class Stop(Exception):
        pass

    def interrupt(done, total, description):
        if description == "triangulate" and done == 2:
            raise Stop

    with pytest.raises(Stop):
        run_pipeline(project, QUICK, progress=interrupt)
    steps = json.loads(state_path(project).read_text())["steps"]
    assert sum(k.startswith("triangulate/") for k in steps) == 2
    resumed = run_pipeline(project, QUICK)
    assert resumed.ok
    assert statuses(resumed, "sync") == ["skipped"] * 2
    assert statuses(resumed, "triangulate") == ["done", "done", "skipped", "skipped"]


@pytest.mark.slow
def test_a_failed_trial_is_listed_and_the_others_complete(project):
    session = project.sessions()[0]
    bad = session.trials()[1]
    tracks_path(session, bad, "overhead").write_bytes(b"not an HDF5 file")
    result = run_pipeline(project, QUICK)
    assert not result.ok
    failed = result.failed_trials()
    assert [(s, t) for s, t, _ in failed] == [(session.name, bad)]
    assert "overhead" in failed[0][2]
    done = [o for o in result.outcomes if o.stage == "triangulate" and o.status == "done"]
    assert len(done) == 3
    assert statuses(result, "analyze") == ["done"]

    out = cli("run", str(project.root), "--scheduler", "serial", "--no-videos")
    assert out.returncode in (1, 2), out.stderr
    assert f"{session.name}/{bad}" in out.stdout
    assert "1 trial(s) failed" in out.stdout


def test_a_camera_without_model_or_tracks_fails_with_the_fix(project):
    session = project.sessions()[0]
    trial = session.trials()[0]
    tracks_path(session, trial, "front").unlink()
    result = run_pipeline(project, PipelineSettings(analyze=False, report=False))
    (fail,) = result.failures
    assert (fail.stage, fail.session, fail.trial, fail.camera) == ("track", session.name,
                                                                   trial, "front")  # fmt: skip
    assert fail.bad_input and "mocap3d track train" in fail.message
    blocked = [o for o in result.outcomes if o.status == "blocked"]
    assert [(o.session, o.trial) for o in blocked] == [(session.name, trial)]


def test_no_calibration_blocks_every_trial(project):
    project.calibration_path.unlink()
    result = run_pipeline(project, PipelineSettings(analyze=False, report=False))
    assert [o.stage for o in result.failures] == ["calibrate"]
    assert "calibration footage" in result.failures[0].message
    assert statuses(result, "triangulate") == ["blocked"] * 4


def test_command_line_runs_and_prints_the_summary(project):
    out = cli("run", str(project.root), "--scheduler", "serial", "--no-report", "--no-analyze")
    assert out.returncode == 0, out.stderr
    for word in ("calibrate", "track", "sync", "triangulate", "provided"):
        assert word in out.stdout
    poses = read_dataset(project.sessions()[0].derived_path, "trials/trial_001/poses3d")
    assert np.isfinite(poses["position"].values).mean() > 0.9


def test_command_line_bad_options_exit_2(project):
    out = cli("run", str(project.root), "--method", "magic")
    assert out.returncode == 2 and "--method" in out.stderr
    out = cli("run", str(project.root / "nope"))
    assert out.returncode == 2 and "nope" in out.stderr
    out = cli("run", str(project.root), "--scheduler", "mars")
    assert out.returncode == 2 and "unknown scheduler" in out.stderr


def test_a_keypoint_one_camera_sees_is_left_out_not_the_trial(project):
    session = project.sessions()[0]
    trial = session.trials()[0]
    for cam in ("side_left", "side_right", "front"):  # only the overhead camera keeps the nose
        path = tracks_path(session, trial, cam)
        df = pd.read_hdf(path)
        df.loc[:, (slice(None), "nose", "likelihood")] = 0.1
        df.to_hdf(path, key="df_with_missing", mode="w", format="table")
    result = run_pipeline(project, PipelineSettings(analyze=False, report=False))
    assert result.ok
    (note,) = [o for o in result.outcomes if o.stage == "triangulate" and o.message]
    assert (note.session, note.trial) == (session.name, trial) and "nose" in note.message
    poses = read_dataset(session.derived_path, f"trials/{trial}/poses3d")
    assert np.isnan(poses["position"].sel(keypoint="nose").values).all()
    assert np.isfinite(poses["position"].sel(keypoint="hip").values).mean() > 0.9
