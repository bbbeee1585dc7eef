"""Train → evaluate → analyse with a tiny DeepLabCut model on simulated jump trials (slow)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.io.dlc import read_dlc_tracks, write_dlc_tracks
from mocap3d.simulate.truth import read_truth
from mocap3d.tracking.analyze import (
    analyze_project,
    load_trial_poses2d,
    project_jitter,
    read_trial_tracks,
    tracks_path,
    tracks_scorer,
    trained_models,
)
from mocap3d.tracking.dlcproject import read_dlc_config
from mocap3d.tracking.evaluate import evaluate_model, track_jitter
from mocap3d.tracking.infer import Predictor, analyze_video
from mocap3d.tracking.metrics import jitter
from mocap3d.tracking.model import load_model
from mocap3d.tracking.project import init_tracking, open_tracking
from mocap3d.tracking.report import learning_curve, plot_evaluation, write_tables
from mocap3d.tracking.train import TrainSettings, train_model
from mocap3d.tracking.workflow import model_key, train_project_models
from tests.unit.tracking.conftest import CAMERA, SETTINGS, labelled_copy
from tests.unit.tracking.synth import make_project, render, trial_track, write_video

pytestmark = [pytest.mark.slow, pytest.mark.dlc]
BODY = ("nose", "tail_base")


def _trial_of(image: str) -> str:
    return image.split("/")[1].split("__")[1]


def _held_out(trained, name: str) -> str:
    return next(t for t, s in open_tracking(trained.project).split.items() if s == name)


def test_tiny_model_reaches_5px_on_test_and_generalisation(trained):
    m = trained.model
    assert trained.seconds < 180, f"training took {trained.seconds:.0f} s (limit 3 min)"
    # whole trials on one side only
    sides = {s: {_trial_of(i) for i in m.images[s]} for s in ("train", "test", "generalisation")}
    assert not sides["train"] & sides["test"] and not sides["train"] & sides["generalisation"]
    assert (len(sides["train"]), len(sides["test"]), len(sides["generalisation"])) == (6, 1, 1)
    # the kept snapshot is the best on the test split
    rmse = {int(e): v for e, v in m.training["dlc_test_rmse_px"].items()}
    assert m.snapshot.name.startswith("snapshot-best-")
    assert rmse[m.training["best_epoch"]] == min(rmse.values())
    ev = evaluate_model(m, body_length=BODY)
    print("\n" + ev.table.round(3).to_string())  # noqa: T201 (shown with -s)
    assert ev.overall("test") <= 5.0
    assert ev.overall("generalisation") <= 5.0
    assert ev.overall("train") <= ev.overall("test") + 1.0
    assert ev.overall("test", "pck@0.1") >= 0.9  # within a tenth of the body length
    # our MAE is DeepLabCut's test "RMSE" (a mean distance) on the same images
    assert ev.overall("test") == pytest.approx(rmse[m.training["best_epoch"]], abs=0.3)


def test_analyze_is_resumable_accurate_and_readable_as_poses2d(trained):
    project = trained.project
    trial = _held_out(trained, "generalisation").split("/")[1]
    results = analyze_project(project, trials=[trial])
    assert [(r.trial, r.status) for r in results] == [(trial, "analysed")]
    ds = load_trial_poses2d(project, "mouse01", trial)
    rig = project.rig()
    assert list(ds.view.values) == [CAMERA] and list(ds.keypoint.values) == rig.keypoints
    assert ds.attrs["fps"] == 500.0 and ds.sizes["time"] == 400
    truth = read_truth(project.session("mouse01").root / "truth" / "truth.h5")
    exact = truth.trials[trial].poses2d().sel(view=CAMERA)
    exact_xy = exact.position.isel(individual=0).transpose("time", "keypoint", "space").values
    xy = ds.position.sel(view=CAMERA).isel(individual=0).transpose("time", "keypoint", "space")
    err = np.linalg.norm(xy.values - exact_xy, axis=-1)  # NaN where not visible
    assert np.nanmean(err) <= 5.0, f"{np.nanmean(err):.2f} px over every visible point"
    # jitter: per trial, view and keypoint; where the truth sees the keypoint, the tracks
    # jitter about a pixel more than the true motion (which is smooth at 500 fps)
    table = project_jitter(project, pcutoff=0.0)
    assert list(table.index.get_level_values("keypoint")) == rig.keypoints
    assert set(table.index.get_level_values("trial")) == {f"mouse01/{trial}"}
    visible_xy = np.where(np.isfinite(exact_xy), xy.values, np.nan)
    ours, _ = jitter(visible_xy)
    true_rows = track_jitter(truth.trials[trial].poses2d().sel(view=[CAMERA]), pcutoff=0.0)
    true_rms = np.nanmedian([r["jitter_rms_px"] for r in true_rows])
    assert np.nanmedian(ours) <= true_rms + 1.5, f"median jitter {np.nanmedian(ours):.2f} px"
    # a second run skips; a file made by another model is redone; overwrite redoes
    assert [r.status for r in analyze_project(project, trials=[trial])] == ["skipped"]
    path = tracks_path(project.session("mouse01"), trial, CAMERA)
    write_dlc_tracks(read_dlc_tracks(path, view=CAMERA), path, scorer="DLC_other_model")
    assert [r.status for r in analyze_project(project, trials=[trial])] == ["analysed"]
    assert tracks_scorer(path) == trained.model.scorer


def test_deeplabcut_analyze_videos_gives_the_same_tracks(trained, tmp_path):
    """DeepLabCut's own analyze_videos on our model: its .h5/.csv read into the same poses."""
    import deeplabcut

    m = trained.model
    trial = _held_out(trained, "test").split("/")[1]
    video = trained.project.session("mouse01").video_path(trial, CAMERA)
    deeplabcut.analyze_videos(
        str(m.project_root / "config.yaml"),
        [str(video)],
        shuffle=m.training["shuffle"],
        trainingsetindex=m.training["trainingset_index"],
        snapshot_index=-1,
        device="cpu",
        destfolder=str(tmp_path),
        save_as_csv=True,
    )
    h5 = sorted(tmp_path.glob(f"{CAMERA}DLC*.h5"))
    assert h5, sorted(p.name for p in tmp_path.iterdir())
    theirs = read_trial_tracks({CAMERA: h5[0]}, fps=500.0)
    theirs_csv = read_trial_tracks({CAMERA: h5[0].with_suffix(".csv")}, fps=500.0)
    ours = analyze_video(Predictor(m), video, view=CAMERA, fps=500.0)
    np.testing.assert_allclose(theirs.position.values, ours.position.values, atol=0.01)
    np.testing.assert_allclose(theirs.confidence.values, ours.confidence.values, atol=1e-3)
    np.testing.assert_allclose(theirs_csv.position.values, ours.position.values, atol=0.01)


def test_evaluation_tables_and_figure(trained, tmp_path):
    ev = evaluate_model(trained.model, body_length=BODY)
    files = write_tables(ev, tmp_path)
    assert [p.name for p in files] == ["evaluation.csv", "swaps.csv"]
    fig = plot_evaluation(ev, tmp_path / "evaluation.png")
    assert fig.stat().st_size > 10_000
    cols = ["n_labelled", "mae_px", "n_pcutoff", "mae_pcutoff_px", "miss_rate"]
    assert list(ev.table.columns) == [*cols, "pck@0.05", "pck@0.1", "pck@0.2"]
    test = ev.table.loc["test"]
    assert test.loc["all", "n_labelled"] == test.drop("all")["n_labelled"].sum()
    visible = np.isfinite(ev.predictions["test"].true).all(axis=-1).sum()
    assert test.loc["all", "n_labelled"] == visible
    # with the p-cutoff, only confident predictions count, and the misses are the rest
    assert test.loc["all", "n_pcutoff"] == round(visible * (1 - test.loc["all", "miss_rate"]))


def test_learning_curve_and_training_from_a_local_weights_file(trained):
    m = trained.model
    split = dict(trained.split)
    quick = TrainSettings(epochs=2, crop_size=128, eval_interval=1)
    curve = learning_curve(m.project_root, split, quick, frames_per_video=[1, 3])
    n_train = curve.xs("test", level="split")["n_train"]
    assert list(n_train) == [6 * 1, 6 * 3]
    assert set(curve.index.get_level_values("split")) == {"train", "test", "generalisation"}
    # learning-curve runs never replace the project's model
    assert load_model(m.project_root).snapshot == m.snapshot
    # one epoch from the trained weights (all layers) stays accurate; from random it would not
    warm_settings = TrainSettings(
        epochs=1, crop_size=128, weights=m.snapshot, load_head_weights=True, learning_rate=1e-5
    )
    warm = train_model(m.project_root, split, warm_settings, purpose="weights_test")
    assert str(m.snapshot) in warm.training["initial_weights"]
    ev = evaluate_model(warm, images={"test": m.images["test"]})
    assert ev.overall("test") <= 5.0
    cold = curve.loc[(1, "test"), "mae_px"]
    assert cold > 2 * ev.overall("test")  # two epochs from random weights are far worse


def test_a_second_project_with_the_same_labels_reuses_the_cached_model(trained, tmp_path):
    import time

    project = labelled_copy(trained.simulated, tmp_path / "again")
    t0 = time.perf_counter()
    m = train_project_models(project, SETTINGS, cache_dir=trained.cache)[CAMERA]
    assert time.perf_counter() - t0 < 30  # copied, not trained
    assert m.model_id == trained.model.model_id
    assert m.train_dir.is_relative_to(project.root)
    # the copy's DeepLabCut config names this project and its videos, not the cached one's
    cfg = read_dlc_config(open_tracking(project).model_dir(CAMERA) / "config.yaml")
    assert Path(cfg["project_path"]) == open_tracking(project).model_dir(CAMERA)
    assert cfg["video_sets"] and all(
        Path(v).is_relative_to(project.root) for v in cfg["video_sets"]
    )
    ev = evaluate_model(m, images={"test": m.images["test"]})
    assert ev.overall("test") == pytest.approx(
        evaluate_model(trained.model, images={"test": m.images["test"]}).overall("test")
    )
    # other settings are another model
    d = open_tracking(project).model_dir(CAMERA)
    other = TrainSettings(epochs=41, crop_size=128)
    assert model_key(d, trained.split, SETTINGS) != model_key(d, trained.split, other)


def test_bad_inputs_are_clear_errors(trained, tmp_path, repo):
    m = trained.model
    # a video of another resolution than the training images
    rng = np.random.default_rng(0)
    frames = [render(p, rng, size=(200, 150)) for p in trial_track(rng, 3, (200, 150))]
    video = write_video(tmp_path / "small.avi", frames)
    with pytest.raises(InputError, match=r"200×150 px.*trained on 320×256"):
        analyze_video(Predictor(m), video, view=CAMERA)
    # a weights file that does not exist, or that is not a weights file
    with pytest.raises(InputError, match="does not exist"):
        TrainSettings(weights=tmp_path / "missing.pt").check()
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="not a readable PyTorch file"):
        train_model(m.project_root, trained.split, TrainSettings(epochs=1, weights=junk))
    # a model trained on other bodyparts than the rig's
    other, _ = make_project(
        tmp_path / "other", repo, trials=1, frames=3, keypoints=["nose", "ear", "tail"]
    )
    t = init_tracking(other, shared=True)
    shutil.copytree(
        m.project_root / "dlc-models-pytorch",
        t.model_dir("all_cameras") / "dlc-models-pytorch",
        dirs_exist_ok=True,
    )
    with pytest.raises(InputError, match="trained on bodyparts"):
        trained_models(other, ["cam_a"])
    # a camera without a model
    per_cam, _ = make_project(tmp_path / "percam", repo, trials=1, frames=3)
    init_tracking(per_cam)
    with pytest.raises(InputError, match="camera 'cam_a' has no trained model"):
        analyze_project(per_cam)


def test_evaluate_from_the_command_line(trained, tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mocap3d",
            "track",
            "evaluate",
            str(trained.project.root),
            "--out",
            str(tmp_path),
            "--threads",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "error on labelled frames (p-cutoff 0.8)" in out.stdout
    assert "generalisation" in out.stdout
    for name in ("evaluation.csv", "swaps.csv", "evaluation.png"):
        assert (tmp_path / CAMERA / name).is_file()


def test_training_without_test_images_keeps_the_last_snapshot(trained):
    m = trained.model
    only_train = {i: "train" for i in m.images["train"][:8]}
    quick = train_model(
        m.project_root, only_train, TrainSettings(epochs=2, crop_size=128), purpose="no_test"
    )
    assert quick.training["n_test"] == 0 and quick.training["n_train"] == 8
    assert quick.snapshot.name == "snapshot-002.pt"  # no evaluation, so no "best"
    assert quick.images["test"] == []
