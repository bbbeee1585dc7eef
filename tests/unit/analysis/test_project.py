"""Project and explicit-input analysis end to end: files, figures, CLI, missing inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib

import numpy as np
import pytest
import tomli_w

from mocap3d.analysis.groups import read_metrics_table
from mocap3d.analysis.project import analyze_project, analyze_recording
from mocap3d.analysis.validate import summarise_truth_comparison, truth_comparison
from mocap3d.cli import main
from mocap3d.errors import InputError
from mocap3d.io.project import open_project
from mocap3d.io.session import list_datasets, write_dataset
from mocap3d.simulate.truth import read_truth


@pytest.fixture
def project(sim_project, tmp_path):
    """A private copy (the analysis writes into the session files)."""
    dst = tmp_path / "project"
    shutil.copytree(sim_project.root, dst)
    return open_project(dst)


@pytest.mark.slow
def test_analyze_project_writes_everything(project, tmp_path):
    res = analyze_project(project, poses="truth", out_dir=tmp_path / "out")
    t = res.table
    assert len(t) == 6 and set(t["group"]) == {"control", "perturbed"}
    assert list(t.columns[:4]) == ["session", "subject", "group", "trial"]
    assert t.columns[-1] == "reasons" and (t["events_source"] == "force").all()
    for name in ("metrics.csv", "metrics.units.csv", "metrics.h5", "reasons.csv", "summary.csv",
                 "comparisons.csv", "settings.json"):  # fmt: skip
        assert (res.out_dir / name).is_file(), name
    figures = sorted(p.name for p in (res.out_dir / "figures").iterdir())
    assert "trial_mouse01_trial_001.png" in figures
    assert "effect_sizes.png" not in figures  # no effect size with one mouse per group
    assert "group_jump_height_impulse_mm.png" in figures
    # one mouse per group: the comparison says so instead of testing trials as animals
    c = res.comparisons.set_index("metric").loc["jump_height_impulse_mm"]
    assert np.isnan(c["p"]) and "too few animals" in c["note"] and c["hedges_g"] != c["hedges_g"]
    settings = json.loads((res.out_dir / "settings.json").read_text())
    assert "Butterworth" in settings["emg_methods"]
    back = read_metrics_table(res.out_dir / "metrics.h5")
    assert back.attrs["units"]["jump_height_impulse_mm"] == "mm"
    # angles and kinetics went into the session files
    for session in project.sessions():
        groups = list_datasets(session.derived_path)
        assert "trials/trial_001/angles" in groups and "trials/trial_001/kinetics" in groups
    # recovered vs true, as the demo prints it
    cmp = truth_comparison(t, project)
    summary = summarise_truth_comparison(cmp).set_index("quantity")
    assert summary.loc["jump_height_impulse_mm", "max_rel_error_pct"] < 2.0
    assert summary.loc["jump_height_flight_mm", "max_rel_error_pct"] < 2.0
    assert summary.loc["force_takeoff_s", "max_abs_error"] < 1 / 500
    assert summary.loc["kin_landing_s", "max_abs_error"] < 1 / 500
    assert summary.loc["emg_ga_onset_s", "max_abs_error"] < 0.002
    assert summary.loc["emg_ta_landing_onset_ms", "max_abs_error"] < 2.0
    assert (summary["n"] == 6).all()


def test_triangulated_poses_with_frame_times_and_a_trial_without_timing(project, tmp_path):
    session = project.session("mouse01")
    truth = read_truth(session.root / "truth" / "truth.h5")
    poses = truth.trials["trial_002"].poses3d()
    frames = poses.assign_coords(time=np.arange(poses.sizes["time"]) / 500.0)
    frames.attrs["time_reference"] = "frame"  # as triangulation writes before sync
    write_dataset(session.derived_path, "trials/trial_002/poses3d", frames)
    (session.videos_dir / "trial_099").mkdir()  # a trial the DAQ file knows nothing about
    res = analyze_project(project, poses="auto", out_dir=tmp_path / "out", figures=False)
    t = res.table.set_index(["session", "trial"])
    row = t.loc[("mouse01", "trial_002")]
    assert abs(row["kin_takeoff_s"] - truth.trials["trial_002"].events["takeoff"]) < 1 / 500
    assert np.isfinite(row["knee_at_takeoff_deg"])
    other = t.loc[("mouse01", "trial_001")]
    assert np.isnan(other["knee_at_takeoff_deg"]) and "run triangulation" in other["reasons"]
    assert np.isfinite(other["jump_height_impulse_mm"])  # the rest of the row is still there
    lost = t.loc[("mouse01", "trial_099")]
    assert np.isnan(lost["jump_height_impulse_mm"]) and "no timing" in lost["reasons"]
    reasons = np.loadtxt(
        res.out_dir / "reasons.csv", dtype=str, delimiter=",", skiprows=1, usecols=1
    )
    assert "trial_099" in reasons


def test_explicit_inputs_and_a_rig_without_force(project, tmp_path):
    session = project.session("mouse02")
    truth = read_truth(session.root / "truth" / "truth.h5").trials["trial_003"]
    points = tmp_path / "points.h5"
    write_dataset(points, "poses3d", truth.poses3d())
    rig = tomllib.loads(project.rig_path.read_text())
    rig["daq"]["channels"] = [c for c in rig["daq"]["channels"] if c["kind"] != "force"]
    rig["calibration"]["board"] = str(project.root / "board.toml")
    (tmp_path / "rig.toml").write_text(tomli_w.dumps(rig))
    start = truth.attrs["start_s"]
    res = analyze_recording(
        session.raw_daq_path, tmp_path / "rig.toml", points3d=points,
        windows={"trial_003": (start, start + 1.0)}, labels={"group": "perturbed"},
        out_dir=tmp_path / "out", figures=False,
    )  # fmt: skip
    row = res.table.iloc[0]
    assert row["group"] == "perturbed" and row["events_source"] == "kinematics"
    assert "the rig has no force channel" in row["reasons"] and np.isnan(row["peak_force_bw"])
    assert abs(row["kin_landing_s"] - truth.events["landing"]) < 1 / 500
    assert np.isfinite(row["emg_ga_latency_takeoff_ms"])


def test_one_trial_of_points_in_a_file_of_several_trials_needs_a_window(project, tmp_path):
    session = project.session("mouse01")
    points = tmp_path / "points.h5"
    truth = read_truth(session.root / "truth" / "truth.h5").trials["trial_001"]
    write_dataset(points, "poses3d", truth.poses3d())
    with pytest.raises(InputError) as exc:
        analyze_recording(session.raw_daq_path, project.rig_path, points3d=points)
    message = str(exc.value)
    assert "has 3 trials" in message and "--window [NAME=]START:END" in message


@pytest.mark.slow
def test_cli_project_and_errors(project, tmp_path, capsys):
    out = subprocess.run(
        [sys.executable, "-m", "mocap3d", "analyze", str(project.root), "--poses", "truth",
         "--no-figures", "--no-store", "--out", str(tmp_path / "cli")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "analysed 6 trial(s)" in out.stdout and "jump height v²/2g" in out.stdout
    assert (tmp_path / "cli" / "metrics.csv").is_file()
    # a session without a subject: its trials are left out of the comparison, and it says so
    toml = project.sessions()[0].root / "session.toml"
    meta = tomllib.loads(toml.read_text())
    meta["session"]["subject"] = ""
    toml.write_text(tomli_w.dumps(meta))
    with pytest.raises(SystemExit) as done:
        main(["analyze", str(project.root), "--poses", "truth", "--no-figures", "--no-store",
              "--out", str(tmp_path / "nameless")])  # fmt: skip
    assert done.value.code == 0
    said = capsys.readouterr().out
    assert "3 trial(s) without a subject left out of the comparison" in said
    for args, message in (
        ([str(tmp_path / "nowhere")], "not a mocap3d project"),
        (["--daq", str(tmp_path / "x.h5")], "--rig"),
        ([str(project.root), "--test", "ttest"], "--test"),
        ([str(project.root), "--window", "1:2"], "not both"),
        ([str(project.root), "--rig", "r.toml", "--label", "a=b"], "--rig, --label: nothing to"),
        (["--daq", "d.h5", "--rig", "r.toml", "--poses", "truth"], "--poses: nothing to do with"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(
                ["analyze", *args]
                if "--window" not in args
                else ["analyze", *args, "--daq", "d.h5"]
            )
        assert exc.value.code == 2, args
        assert message in capsys.readouterr().err
