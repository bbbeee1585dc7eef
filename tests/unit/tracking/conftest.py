"""A tiny model trained once per test session on the simulator's labelled jump frames.

The simulator (``mocap3d.simulate``) renders jump trials of the demo rig (320×256) with
labelled frames in DeepLabCut's format; here one camera (``side_left``), 8 trials: 6 to train,
1 to test (choosing the snapshot), 1 held out for generalisation. Training runs DeepLabCut on
the CPU: run these tests under the CPU lock
(``flock /tmp/mocap3d-cpu.lock pytest tests/unit/tracking``).
"""

from __future__ import annotations

import importlib.util
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomli_w

from mocap3d.io.project import Project
from mocap3d.tracking.model import TrainedModel
from mocap3d.tracking.train import TrainSettings

CAMERA = "side_left"
TRIALS, DURATION_S, LABELLED = 8, 0.8, 10
SETTINGS = TrainSettings(epochs=40, crop_size=128, batch_size=8, seed=42)


@dataclass(frozen=True)
class Trained:
    project: Project
    model: TrainedModel
    split: dict[str, str]
    seconds: float
    cache: Path
    simulated: Path  # the untouched simulated project (copy it to label again)


def needs_dlc() -> None:
    if importlib.util.find_spec("deeplabcut") is None:
        pytest.skip("DeepLabCut is not installed (mocap3d[dlc])")


def simulate(root: Path, repo: Path) -> Path:
    """A simulated project: the demo rig reduced to one camera, 8 control jumps."""
    from mocap3d.simulate.project import simulate_project
    from mocap3d.simulate.render import RenderOptions
    from mocap3d.simulate.session import SessionOptions

    data = tomllib.loads((repo / "rigs" / "demo.toml").read_text(encoding="utf-8"))
    data["cameras"] = [c for c in data["cameras"] if c["name"] == CAMERA]
    data["calibration"]["board"] = str(repo / "calibration" / "boards" / "charuco-7x5-10mm.toml")
    rig = root.parent / f"{root.name}-rig.toml"
    rig.write_text(tomli_w.dumps(data), encoding="utf-8")
    options = SessionOptions(
        duration_s=DURATION_S, n_labelled=LABELLED, render=RenderOptions(supersample=1)
    )
    simulate_project(
        root,
        rig=rig,
        groups=["control"],
        subjects_per_group=1,
        trials_per_subject=TRIALS,
        seed=0,
        options=options,
    )
    return root


def labelled_copy(simulated: Path, root: Path) -> Project:
    """A copy of the simulated project, split by trial, with the simulator's labels imported."""
    from mocap3d.io.project import open_project
    from mocap3d.tracking.labels import import_simulator_labels
    from mocap3d.tracking.project import assign_split, init_tracking

    shutil.copytree(simulated, root, symlinks=True)
    project = open_project(root)
    tracking = init_tracking(project)
    assign_split(tracking, project, test_fraction=0.15, generalisation=1, seed=0)
    import_simulator_labels(project)
    return project


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory, repo: Path) -> Path:
    """The simulated project (read-only: copy it before changing anything)."""
    return simulate(tmp_path_factory.mktemp("simulated") / "simulated", repo)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, simulated: Path) -> Trained:
    import time

    from mocap3d.tracking.labels import image_split
    from mocap3d.tracking.project import open_tracking
    from mocap3d.tracking.workflow import train_project_models

    needs_dlc()
    base = tmp_path_factory.mktemp("tracking")
    project = labelled_copy(simulated, base / "proj")
    split = image_split(open_tracking(project), CAMERA)
    t0 = time.perf_counter()
    models = train_project_models(project, SETTINGS, cache_dir=base / "cache")
    seconds = time.perf_counter() - t0
    return Trained(project, models[CAMERA], dict(split), seconds, base / "cache", simulated)
