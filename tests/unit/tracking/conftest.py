"""A tiny model trained once per test session on synthetic trial videos (see synth.py).

Training runs DeepLabCut on the CPU: run these tests under the CPU lock
(``flock /tmp/mocap3d-cpu.lock pytest tests/unit/tracking``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mocap3d.io.project import Project
from mocap3d.tracking.model import TrainedModel
from mocap3d.tracking.train import TrainSettings

# 16 trials (12 train, 3 test, 1 generalisation) × 2 cameras × 3 labelled frames
TRIALS, FRAMES, LABELLED = 16, 20, 3
SETTINGS = TrainSettings(epochs=32, crop_size=96, batch_size=8, seed=42)


@dataclass(frozen=True)
class Trained:
    project: Project
    truth: dict[tuple[str, str, str], np.ndarray]
    model: TrainedModel
    split: dict[str, str]
    seconds: float
    cache: Path


def needs_dlc() -> None:
    if importlib.util.find_spec("deeplabcut") is None:
        pytest.skip("DeepLabCut is not installed (mocap3d[dlc])")


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, repo: Path) -> Trained:
    import time

    from mocap3d.tracking.labels import image_split
    from mocap3d.tracking.project import SHARED_MODEL, open_tracking
    from mocap3d.tracking.workflow import train_project_models

    needs_dlc()
    base = tmp_path_factory.mktemp("tracking")
    project, truth = labelled_project(base / "proj", repo)
    split = image_split(open_tracking(project), SHARED_MODEL)
    t0 = time.perf_counter()
    models = train_project_models(project, SETTINGS, cache_dir=base / "cache")
    seconds = time.perf_counter() - t0
    return Trained(project, truth, models["cam_a"], dict(split), seconds, base / "cache")


def labelled_project(root: Path, repo: Path) -> tuple[Project, dict]:
    """The synthetic project, split by trial, with frames extracted and labelled."""
    from mocap3d.tracking.frames import extract_frames
    from mocap3d.tracking.project import assign_split, init_tracking
    from tests.unit.tracking.synth import label_extracted, make_project

    project, truth = make_project(root, repo, trials=TRIALS, frames=FRAMES, seed=0)
    tracking = init_tracking(project, shared=True)
    assign_split(tracking, project, test_fraction=0.2, generalisation=1, seed=0)
    extract_frames(project, frames_per_video=LABELLED, seed=0)
    label_extracted(project, truth)
    return project, truth
