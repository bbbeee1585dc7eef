"""DeepLabCut's real open-field example project (hand labels) loads, trains and evaluates."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mocap3d.tracking.dlcproject import open_dlc_project
from mocap3d.tracking.evaluate import evaluate_model
from mocap3d.tracking.labels import video_split
from mocap3d.tracking.model import load_model
from mocap3d.tracking.train import TrainSettings, train_model
from tests.unit.tracking.conftest import needs_dlc

pytestmark = [pytest.mark.slow, pytest.mark.dlc]


def test_real_project_loads_and_trains_a_few_iterations(real_data, tmp_path):
    needs_dlc()
    dst = tmp_path / "openfield"
    shutil.copytree(real_data / "dlc_openfield", dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    project = open_dlc_project(dst)
    assert project.bodyparts == ["snout", "leftear", "rightear", "tailbase"]
    labels = project.all_labels()
    assert list(labels) == ["m4s1"] and len(labels["m4s1"].images) == 116
    # one video: split single frames (a few iterations only; 16 test frames)
    split = video_split(project, test_fraction=0.15, by="frame", seed=0)
    settings = TrainSettings(epochs=1, crop_size=128, batch_size=8, eval_interval=1)
    model = train_model(dst, split, settings)
    assert model.bodyparts == project.bodyparts
    assert model.image_sizes == [(640, 480)]
    assert model.training["n_train"] == 99 and model.training["n_test"] == 17
    assert "1" in model.training["dlc_test_rmse_px"]  # DeepLabCut evaluated on the test frames
    again = load_model(dst / "config.yaml")
    assert again.snapshot == model.snapshot and again.model_id == model.model_id
    ev = evaluate_model(again, images={"test": model.images["test"]})
    row = ev.table.loc[("test", "all")]
    assert row["n_labelled"] == 17 * 4
    assert np.isfinite(row["mae_px"]) and row["mae_px"] > 0
