"""Tracking set-up of a project: DeepLabCut projects from the rig, trial split, frames, labels."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.io.dlc import read_collected_data
from mocap3d.tracking.dlcproject import open_dlc_project, read_dlc_config, repair_project
from mocap3d.tracking.frames import extract_frames, motion_rare, select_frames, video_features
from mocap3d.tracking.labels import (
    image_split,
    import_labels,
    import_simulator_labels,
    video_split,
)
from mocap3d.tracking.project import (
    SHARED_MODEL,
    assign_split,
    init_tracking,
    open_tracking,
    split_groups,
)
from tests.unit.tracking.synth import CAMERAS, KEYPOINTS, label_extracted, make_project


@pytest.fixture
def small(tmp_path, repo):
    return make_project(tmp_path / "proj", repo, trials=5, frames=12)


def test_init_per_camera_writes_a_deeplabcut_project_per_camera(small):
    project, _ = small
    t = init_tracking(project)
    assert t.mode == "per_camera" and t.models == {c: c for c in CAMERAS}
    for cam in CAMERAS:
        cfg = read_dlc_config(t.model_dir(cam))
        assert cfg["bodyparts"] == KEYPOINTS
        assert cfg["skeleton"] == [["nose", "tail"]]
        assert cfg["default_net_type"] == "cspnext_s" and cfg["engine"] == "pytorch"
        assert cfg["Task"] == cam and cfg["scorer"] == "mocap3d"
    assert open_tracking(project) == t
    again = init_tracking(project)  # idempotent
    assert again.models == t.models
    with pytest.raises(InputError, match="set up as 'per_camera'"):
        init_tracking(project, shared=True)
    with pytest.raises(InputError, match="no tracking model"):
        t.model_for("cam_z")


def test_shared_model_serves_every_camera(small):
    project, _ = small
    t = init_tracking(project, shared=True)
    assert set(t.models.values()) == {SHARED_MODEL}
    assert t.cameras_of(SHARED_MODEL) == CAMERAS


def test_split_groups_keeps_groups_whole_and_is_seeded():
    groups = [f"s/t{i}" for i in range(10)]
    a = split_groups(groups, test_fraction=0.2, generalisation=1, seed=3)
    assert a == split_groups(groups, test_fraction=0.2, generalisation=1, seed=3)
    counts = {n: sum(v == n for v in a.values()) for n in ("train", "test", "generalisation")}
    assert counts == {"train": 7, "test": 2, "generalisation": 1}
    b = split_groups(groups, test_fraction=0.5, generalisation=["s/t0", "s/t1"])
    assert b["s/t0"] == b["s/t1"] == "generalisation"
    assert split_groups(["only"], test_fraction=0.2) == {"only": "train"}
    with pytest.raises(InputError, match="not among"):
        split_groups(groups, generalisation=["s/t99"])
    with pytest.raises(InputError, match="every group"):
        split_groups(["a"], generalisation=["a"])


def test_extract_label_and_split_by_trial(small):
    project, truth = small
    t = init_tracking(project, shared=True)
    t = assign_split(t, project, test_fraction=0.25, generalisation=1, seed=0)
    assert sorted(t.split) == [f"s1/trial_{i:02d}" for i in range(1, 6)]
    t = extract_frames(project, frames_per_video=4, seed=1)
    assert len(t.videos) == 5 * len(CAMERAS)
    folder = t.model_dir(SHARED_MODEL) / "labeled-data" / "s1__trial_01__cam_a"
    assert len(list(folder.glob("img*.png"))) == 4
    label_extracted(project, truth)
    split = image_split(open_tracking(project), SHARED_MODEL)
    assert len(split) == 5 * 2 * 4
    by_trial: dict[str, set[str]] = {}
    for img, name in split.items():
        trial = img.split("/")[1].split("__")[1]
        by_trial.setdefault(trial, set()).add(name)
    assert all(len(v) == 1 for v in by_trial.values())  # no trial on two sides (both cameras)
    cfg = read_dlc_config(t.model_dir(SHARED_MODEL))
    assert len(cfg["video_sets"]) == 10
    # running again keeps the frames (and their labels) and the split
    before = sorted(p.name for p in folder.iterdir())
    extract_frames(project, frames_per_video=6)
    assert sorted(p.name for p in folder.iterdir()) == before
    assert assign_split(open_tracking(project), project, test_fraction=0.6).split == t.split


def test_extract_needs_a_split(small):
    project, _ = small
    init_tracking(project)
    with pytest.raises(InputError, match="no trial split"):
        extract_frames(project)


def test_select_frames_reserves_a_quota_for_rare_frames(rng):
    # 200 frames of "sitting" around one appearance, 8 "flight" frames far from it
    sitting = rng.normal(0, 1, (200, 16))
    flight = rng.normal(0, 1, (8, 16)) + 12
    feats = np.concatenate([sitting, flight])
    rare = np.zeros(len(feats), bool)
    rare[200:] = True
    chosen = select_frames(feats, 12, rare=rare, rare_fraction=0.25, seed=0)
    assert len(chosen) == 12 and len(set(chosen)) == 12
    assert np.sum(chosen >= 200) >= 3  # the quota: 3 of 12
    plain = select_frames(feats, 12, seed=0)
    assert len(plain) == 12
    assert len(select_frames(feats[:5], 12)) == 5
    with pytest.raises(InputError, match="one flag per frame"):
        select_frames(feats, 4, rare=rare[:10])


def test_video_features_and_motion(small):
    project, _ = small
    video = project.session("s1").video_path("trial_01", "cam_a")
    f = video_features(video)
    assert f.size == (160, 128) and len(f.frames) == 12 and f.features.shape == (12, 32 * 24)
    assert f.motion[0] == 0 and (f.motion[1:] > 0).all()
    assert motion_rare(f.motion, quantile=0.75).sum() == 3
    assert len(video_features(video, step=4).frames) == 3


def test_import_labels_made_elsewhere(small, tmp_path):
    project, truth = small
    init_tracking(project)
    # another labeller's folder, keypoints in another order and one extra
    import cv2

    from mocap3d.io.dlc import LabelledFrames, write_collected_data

    src = tmp_path / "elsewhere"
    src.mkdir()
    video = project.session("s1").video_path("trial_02", "cam_b")
    cap = cv2.VideoCapture(str(video))
    ok, img = cap.read()
    cap.release()
    assert ok
    cv2.imwrite(str(src / "img00000.png"), img)
    gt = truth[("s1", "trial_02", "cam_b")][0]
    order = ["tail", "nose", "paw_r", "paw_l", "ear"]
    xy = np.array([[gt[KEYPOINTS.index(k)] if k in KEYPOINTS else [1.0, 1.0] for k in order]])
    write_collected_data(src, LabelledFrames(["labeled-data/v/img00000.png"], order, xy, "Ann"))
    t = import_labels(project, src, session="s1", trial="trial_02", camera="cam_b")
    dest = t.model_dir("cam_b") / "labeled-data" / "s1__trial_02__cam_b"
    labels = read_collected_data(dest / "CollectedData_mocap3d.h5")
    assert labels.keypoints == KEYPOINTS
    np.testing.assert_allclose(labels.xy[0], gt)
    assert labels.images == ["labeled-data/s1__trial_02__cam_b/img00000.png"]
    with pytest.raises(InputError, match="no labels"):
        import_labels(project, tmp_path, session="s1", trial="trial_02", camera="cam_b")


def test_deeplabcut_project_made_elsewhere_is_repaired_and_split(real_data, tmp_path):
    import shutil

    src = real_data / "dlc_openfield"
    dst = tmp_path / "openfield"
    shutil.copytree(src, dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    proj = repair_project(open_dlc_project(dst))
    assert proj.cfg["project_path"] == str(dst)
    assert [str(k).rsplit("/", 1)[-1] for k in proj.cfg["video_sets"]] == ["m4s1.mp4"]
    with pytest.raises(InputError, match="one labelled video"):
        video_split(proj, test_fraction=0.2)
    split = video_split(proj, test_fraction=0.2, by="frame", seed=0)
    assert len(split) == 116
    assert sum(v == "test" for v in split.values()) == 23


def test_missing_labels_are_a_clear_error(small):
    project, _ = small
    t = init_tracking(project)
    with pytest.raises(InputError, match="no labelled frames"):
        image_split(t, "cam_a")
    with pytest.raises(InputError, match="does not exist"):
        read_dlc_config(t.root / "nowhere")
    with pytest.raises(InputError, match="no simulator labels"):
        import_simulator_labels(project)
