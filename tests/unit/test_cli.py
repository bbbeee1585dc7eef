"""The command line as users run it: verbs, exit codes, messages, tracebacks only with -v."""

from __future__ import annotations

import copy
import subprocess
import sys
import tomllib

import tomli_w


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mocap3d", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_help_lists_the_workflow_verbs():
    out = run("--help")
    assert out.returncode == 0
    for verb in ("rig", "demo"):
        assert verb in out.stdout


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("mocap3d ")


def test_rig_check_ok(seed_rig_path):
    out = run("rig", "check", str(seed_rig_path))
    assert out.returncode == 0, out.stderr
    assert "mouse-jump-4cam" in out.stdout and "platform_z [mm]" in out.stdout


def test_rig_check_with_five_faults_exits_2_and_names_all(seed_rig_path, tmp_path):
    data = tomllib.loads(seed_rig_path.read_text())
    bad = copy.deepcopy(data)
    bad["cameras"][1]["name"] = "side_left"
    bad["angles"]["knee"]["points"][1] = "knees"
    bad["daq"]["channels"][1]["terminal"] = "ai0"
    bad["daq"]["streams"]["fast"]["rate_hz"] = "fast"
    bad["calibration"]["board"] = "missing.toml"
    path = tmp_path / "broken.toml"
    path.write_text(tomli_w.dumps(bad))
    out = run("rig", "check", str(path))
    assert out.returncode == 2
    assert "5 problem(s)" in out.stderr
    for needle in (
        "cameras[1].name",
        "angles.knee.points",
        "daq.channels[1](emg_ta).terminal",
        "daq.streams.fast.rate_hz",
        "calibration.board",
    ):
        assert needle in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_input_has_no_traceback_unless_verbose(tmp_path):
    out = run("rig", "check", str(tmp_path / "nope.toml"))
    assert out.returncode == 2
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr
    verbose = run("-v", "rig", "check", str(tmp_path / "nope.toml"))
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr


def test_usage_errors_exit_2():
    assert run("rig", "check").returncode == 2
    assert run("no-such-verb").returncode == 2


def test_demo_runs_and_says_what_is_not_built(tmp_path):
    out = run("demo", "--workdir", str(tmp_path / "d"))
    assert out.returncode == 0, out.stderr
    assert "demo project" in out.stdout
    assert (tmp_path / "d" / "project" / "project.toml").is_file()
