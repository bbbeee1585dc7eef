"""Project folders: creation from a rig, sessions, trials and videos."""

from __future__ import annotations

import pytest

from mocap3d.errors import InputError, LayoutVersionError
from mocap3d.io.project import create_project, natural_key, open_project


def test_create_and_open(tmp_path, seed_rig_path):
    project = create_project(tmp_path / "p", seed_rig_path, name="jumps")
    assert project.name == "jumps"
    assert project.rig().name == "mouse-jump-4cam"
    assert project.rig().board.square_length_mm == 10.0  # board copied beside the rig
    again = open_project(tmp_path / "p")
    assert again == project
    with pytest.raises(InputError, match="already a project"):
        create_project(tmp_path / "p", seed_rig_path)
    assert create_project(tmp_path / "p", seed_rig_path, exist_ok=True) == project


def test_sessions_trials_and_videos(tmp_path, seed_rig_path):
    project = create_project(tmp_path / "p", seed_rig_path)
    s = project.new_session(
        "m01_day1", subject="m01", group="control", trial_labels={"trial_2": {"condition": "high"}}
    )
    for trial in ("trial_10", "trial_2", "trial_1"):
        (s.videos_dir / trial).mkdir(parents=True)
        (s.videos_dir / trial / "side_left.mp4").write_bytes(b"")
    assert s.trials() == ["trial_1", "trial_2", "trial_10"]
    assert s.video_path("trial_2", "side_left").name == "side_left.mp4"
    with pytest.raises(InputError, match=r"no video for camera 'front'.*name it front\.mp4"):
        s.video_path("trial_2", "front")
    assert s.labels("trial_2") == {
        "session": "m01_day1",
        "subject": "m01",
        "group": "control",
        "condition": "high",
    }
    assert [x.name for x in project.sessions()] == ["m01_day1"]
    assert project.session("m01_day1").group == "control"
    with pytest.raises(InputError, match="no session 'm02'"):
        project.session("m02")
    with pytest.raises(InputError, match="already exists"):
        project.new_session("m01_day1")
    with pytest.raises(InputError, match="invalid session name"):
        project.new_session("../evil")


def test_not_a_project_and_unknown_version(tmp_path, seed_rig_path):
    with pytest.raises(InputError, match="not a mocap3d project"):
        open_project(tmp_path)
    create_project(tmp_path / "p", seed_rig_path)
    text = (
        (tmp_path / "p" / "project.toml")
        .read_text()
        .replace("layout_version = 1", "layout_version = 3")
    )
    (tmp_path / "p" / "project.toml").write_text(text)
    with pytest.raises(LayoutVersionError, match="upgrade mocap3d"):
        open_project(tmp_path / "p")


def test_natural_order():
    assert sorted(["t10", "t9", "t1"], key=natural_key) == ["t1", "t9", "t10"]
