"""``mocap3d report`` and ``mocap3d export`` as users run them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mocap3d.simulate.project import simulate_project
from mocap3d.simulate.session import SessionOptions
from tests.fixtures.outputs_project import shared_project


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mocap3d", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={"MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **_path_env()},
    )


def _path_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "HOME")}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return shared_project(tmp_path_factory, videos=False)


def test_export_writes_csv_and_nwb(project):
    out = run("export", str(project.root))
    assert out.returncode == 0, out.stderr
    session = project.sessions()[0]
    assert (session.outputs_dir / "mouse01.nwb").is_file()
    assert (session.outputs_dir / "metrics.csv").is_file()
    for trial in session.trials():
        assert (session.outputs_dir / "trials" / trial / f"{trial}.csv").is_file()
        assert not (session.outputs_dir / "trials" / trial / "report.html").exists()
    assert "mouse01.nwb" in out.stdout


def test_report_of_one_trial_of_a_session(project):
    session = project.sessions()[0]
    out = run("report", str(session.root), "--trial", "trial_002", "--no-videos")
    assert out.returncode == 0, out.stderr
    folder = session.outputs_dir / "trials" / "trial_002"
    assert (folder / "report.html").is_file() and (folder / "figures" / "timeline.svg").is_file()
    assert (folder / "trial_002.nwb").is_file()  # a subset of trials: per-trial NWB files
    assert (project.outputs_dir / "report.html").is_file()
    assert "report:" in out.stdout


def test_bad_input_exits_2(project, tmp_path):
    out = run("report", str(tmp_path))
    assert out.returncode == 2 and "neither a project" in out.stderr
    out = run("export", str(project.root), "--nwb", "bogus")
    assert out.returncode == 2 and "--nwb must be" in out.stderr
    out = run("report", str(project.root), "--codec", "divx")
    assert out.returncode == 2 and "unknown video codec" in out.stderr
    out = run("report", str(project.root), "--session", "nobody")
    assert out.returncode == 2 and "no session 'nobody'" in out.stderr
    assert "Traceback" not in out.stderr


def test_report_says_what_is_missing(tmp_path):
    """A fresh recording with nothing derived yet: a report that lists what to run."""
    root = simulate_project(
        tmp_path / "fresh",
        rig="demo",
        groups=["control"],
        trials_per_subject=1,
        scale=0.2,
        options=SessionOptions(duration_s=0.1, n_labelled=0, videos=False),
    ).root
    out = run("report", str(root))
    assert out.returncode == 0, out.stderr
    for hint in ("mocap3d triangulate", "mocap3d analyze", "mocap3d calibrate"):
        assert hint in out.stdout
    page = root / "sessions" / "mouse01" / "outputs" / "trials" / "trial_001" / "report.html"
    assert "Not available yet" in page.read_text(encoding="utf-8")
