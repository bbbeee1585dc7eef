"""``mocap3d track``: help, the set-up verbs and bad input (exit 2, one message)."""

from __future__ import annotations

import subprocess
import sys

from tests.unit.tracking.synth import make_project


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mocap3d", *args], capture_output=True, text=True, timeout=300
    )


def test_track_help_lists_the_verbs_and_does_not_import_torch():
    out = run("track", "--help")
    assert out.returncode == 0, out.stderr
    for verb in ("init", "split", "extract", "import-labels", "train", "analyze", "evaluate"):
        assert verb in out.stdout
    code = "import sys, mocap3d.cli.track; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == (
        "False\n"
    )


def test_init_split_extract_from_the_command_line(tmp_path, repo):
    project, _ = make_project(tmp_path / "p", repo, trials=3, frames=8)
    out = run("track", "init", str(project.root))
    assert out.returncode == 0, out.stderr
    assert "cam_a:" in out.stdout and "config.yaml" in out.stdout
    out = run("track", "split", str(project.root), "--test-fraction", "0.34", "-g", "s1/trial_03")
    assert out.returncode == 0, out.stderr
    assert "generalisation: 1 trials ['s1/trial_03']" in out.stdout
    out = run("track", "extract", str(project.root), "-n", "2")
    assert out.returncode == 0, out.stderr
    assert "6 videos have frames to label" in out.stdout


def test_bad_input_exits_2_with_one_message(tmp_path, repo):
    project, _ = make_project(tmp_path / "p", repo, trials=1, frames=3)
    out = run("track", "analyze", str(project.root))
    assert out.returncode == 2
    assert "no tracking set-up" in out.stderr and "Traceback" not in out.stderr
    run("track", "init", str(project.root))
    out = run("track", "train", str(project.root), "--weights", str(tmp_path / "nope.pt"))
    assert out.returncode == 2
    assert "weights file" in out.stderr and "does not exist" in out.stderr
    out = run("track", "train", str(project.root))
    assert out.returncode == 2 and "no labelled frames" in out.stderr
    out = run("track", "analyze", str(project.root))
    assert out.returncode == 2 and "has no trained model" in out.stderr
    out = run("track", "evaluate", str(tmp_path / "nothing"))
    assert out.returncode == 2 and "does not exist" in out.stderr
