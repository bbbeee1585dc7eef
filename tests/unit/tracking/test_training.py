"""Train → evaluate → analyse with a tiny DeepLabCut model on synthetic trials (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.tracking.analyze import (
    analyze_project,
    load_trial_poses2d,
    read_trial_tracks,
    tracks_path,
    tracks_scorer,
    trained_models,
)
from mocap3d.tracking.evaluate import evaluate_model
from mocap3d.tracking.infer import Predictor, analyze_video
from mocap3d.tracking.model import load_model
from mocap3d.tracking.project import init_tracking, open_tracking
from mocap3d.tracking.report import learning_curve, plot_evaluation, write_tables
from mocap3d.tracking.train import TrainSettings, train_model
from tests.unit.tracking.synth import CAMERAS, KEYPOINTS, LEFT_RIGHT, make_project, render

pytestmark = [pytest.mark.slow, pytest.mark.dlc]


def _trial_of(image: str) -> str:
    return image.split("/")[1].split("__")[1]


def test_tiny_model_reaches_5px_on_test_and_generalisation(trained):
    m = trained.model
    assert trained.seconds < 180, f"training took {trained.seconds:.0f} s (limit 3 min)"
    # whole trials on one side only, across both cameras of the shared model
    sides = {s: {_trial_of(i) for i in m.images[s]} for s in ("train", "test", "generalisation")}
    assert not sides["train"] & sides["test"] and not sides["train"] & sides["generalisation"]
    assert len(sides["test"]) == 3 and len(sides["generalisation"]) == 1
    # the kept snapshot is the best on the test split
    rmse = {int(e): v for e, v in m.training["dlc_test_rmse_px"].items()}
    assert m.snapshot.name.startswith("snapshot-best-")
    assert rmse[m.training["best_epoch"]] == min(rmse.values())
    ev = evaluate_model(m, body_length=("nose", "tail"), left_right=LEFT_RIGHT)
    print("\n" + ev.table.round(3).to_string())  # noqa: T201 (shown with -s)
    assert ev.overall("test") <= 5.0
    assert ev.overall("generalisation") <= 5.0
    assert ev.overall("train") <= ev.overall("test") + 1.0
    assert ev.overall("test", "pck@0.2") >= 0.9  # within a fifth of the body length
    assert set(ev.swaps.index.get_level_values("pair")) == {"paw_l|paw_r"}
    # our MAE is DeepLabCut's test "RMSE" (mean distance) on the same images
    assert ev.overall("test") == pytest.approx(rmse[m.training["best_epoch"]], abs=0.3)


def test_analyze_is_resumable_accurate_and_readable_as_poses2d(trained):
    project = trained.project
    results = analyze_project(project)
    assert {r.status for r in results} == {"analysed"}
    assert len(results) == 16 * 2
    tracking = open_tracking(project)
    gen = next(t for t, s in tracking.split.items() if s == "generalisation").split("/")[1]
    ds = load_trial_poses2d(project, "s1", gen)
    assert list(ds.view.values) == CAMERAS and list(ds.keypoint.values) == KEYPOINTS
    assert ds.attrs["fps"] == 100.0 and ds.sizes["time"] == 20
    for cam in CAMERAS:
        xy = ds.position.sel(view=cam, individual=ds.individual[0])
        xy = xy.transpose("time", "keypoint", "space").values
        err = np.linalg.norm(xy - trained.truth[("s1", gen, cam)], axis=-1)
        assert np.nanmean(err) <= 5.0, f"{cam}: {np.nanmean(err):.2f} px on every frame"
    # a second run skips everything; a file made by another model is redone
    assert {r.status for r in analyze_project(project)} == {"skipped"}
    session = project.session("s1")
    path = tracks_path(session, "trial_01", "cam_a")
    from mocap3d.io.dlc import read_dlc_tracks, write_dlc_tracks

    write_dlc_tracks(read_dlc_tracks(path, view="cam_a"), path, scorer="DLC_other_model")
    again = analyze_project(project)
    redone = [(r.trial, r.camera) for r in again if r.status == "analysed"]
    assert redone == [("trial_01", "cam_a")]
    assert tracks_scorer(path) == trained.model.scorer


def test_deeplabcut_analyze_videos_gives_the_same_tracks(trained, tmp_path):
    """DeepLabCut's own analyze_videos on our model: its .h5 reads into the same poses."""
    import deeplabcut

    m = trained.model
    video = trained.project.session("s1").video_path("trial_02", "cam_b")
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
    h5 = sorted(tmp_path.glob("cam_b*DLC*.h5"))
    assert h5, sorted(p.name for p in tmp_path.iterdir())
    theirs = read_trial_tracks({"cam_b": h5[0]}, fps=100.0)
    theirs_csv = read_trial_tracks({"cam_b": h5[0].with_suffix(".csv")}, fps=100.0)
    ours = analyze_video(Predictor(m), video, view="cam_b", fps=100.0)
    np.testing.assert_allclose(theirs.position.values, ours.position.values, atol=0.01)
    np.testing.assert_allclose(theirs.confidence.values, ours.confidence.values, atol=1e-3)
    np.testing.assert_allclose(theirs_csv.position.values, ours.position.values, atol=0.01)


def test_evaluation_tables_and_figure(trained, tmp_path):
    ev = evaluate_model(trained.model, body_length=("nose", "tail"), left_right=LEFT_RIGHT)
    files = write_tables(ev, tmp_path)
    assert [p.name for p in files] == ["evaluation.csv", "swaps.csv"]
    fig = plot_evaluation(ev, tmp_path / "evaluation.png")
    assert fig.stat().st_size > 10_000
    cols = ["n_labelled", "mae_px", "n_pcutoff", "mae_pcutoff_px", "miss_rate"]
    assert list(ev.table.columns) == [*cols, "pck@0.05", "pck@0.1", "pck@0.2"]
    assert ev.table.loc[("test", "all"), "n_labelled"] == 3 * 2 * 3 * 4


def test_learning_curve_and_training_from_a_local_weights_file(trained):
    m = trained.model
    split = dict(trained.split)
    quick = TrainSettings(epochs=2, crop_size=96, eval_interval=1)
    curve = learning_curve(m.project_root, split, quick, frames_per_video=[1, 3])
    n_train = curve.xs("test", level="split")["n_train"]
    assert list(n_train) == [12 * 2 * 1, 12 * 2 * 3]
    assert set(curve.index.get_level_values("split")) == {"train", "test", "generalisation"}
    # learning-curve runs never replace the project's model
    assert load_model(m.project_root).snapshot == m.snapshot
    # one epoch from the trained weights (all layers) stays accurate; from random it would not
    warm = train_model(
        m.project_root,
        split,
        TrainSettings(
            epochs=1, crop_size=96, weights=m.snapshot, load_head_weights=True, learning_rate=1e-5
        ),
        purpose="weights_test",
    )
    assert str(m.snapshot) in warm.training["initial_weights"]
    ev = evaluate_model(warm, images={"test": m.images["test"]})
    assert ev.overall("test") <= 5.0
    cold = curve.loc[(1, "test"), "mae_px"]
    assert cold > 2 * ev.overall("test")  # two epochs from random weights are far worse


def test_bad_inputs_are_clear_errors(trained, tmp_path, repo):
    m = trained.model
    # a video of another resolution than the training images
    rng = np.random.default_rng(0)
    from tests.unit.tracking.synth import trial_track, write_video

    big = [render(p, rng, size=(200, 150)) for p in trial_track(rng, 3, (200, 150))]
    video = write_video(tmp_path / "big.avi", big)
    with pytest.raises(InputError, match=r"200×150 px.*trained on 160×128"):
        analyze_video(Predictor(m), video, view="cam_a")
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
    import shutil

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


def test_a_second_project_with_the_same_labels_reuses_the_cached_model(trained, tmp_path, repo):
    import time

    from mocap3d.tracking.workflow import train_project_models
    from tests.unit.tracking.conftest import SETTINGS, labelled_project

    project, _ = labelled_project(tmp_path / "again", repo)
    t0 = time.perf_counter()
    models = train_project_models(project, SETTINGS, cache_dir=trained.cache)
    assert time.perf_counter() - t0 < 20  # copied, not trained
    m = models["cam_b"]
    assert m.model_id == trained.model.model_id
    assert m.train_dir.is_relative_to(project.root)
    results = analyze_project(project, trials=["trial_01"])
    assert [r.status for r in results] == ["analysed", "analysed"]
    # a change of settings is another model (not in the cache)
    from mocap3d.tracking.workflow import model_key

    d = open_tracking(project).model_dir("all_cameras")
    assert model_key(d, trained.split, SETTINGS) != model_key(
        d, trained.split, TrainSettings(epochs=33, crop_size=96)
    )
