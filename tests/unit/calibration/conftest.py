"""Shared calibration fixtures: a small simulated rig, its board footage and the truth.

Rendering is the slow part, so footage is made once per test session (demo rig, 320×256).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mocap3d.rig import load_rig
from mocap3d.simulate.board_footage import (
    BoardFootageOptions,
    render_board_footage,
    write_board_footage,
)
from mocap3d.simulate.rig_geometry import camera_layout


@pytest.fixture(scope="session")
def demo_rig(demo_rig_path):
    return load_rig(demo_rig_path)


@pytest.fixture(scope="session")
def demo_footage(demo_rig, tmp_path_factory):
    """Demo rig board footage (80 frames, PNG folders) written to a temporary folder."""
    cams = camera_layout(demo_rig, seed=1)
    frames, truth = render_board_footage(
        cams, demo_rig.board, options=BoardFootageOptions(n_frames=80, supersample=2), seed=0
    )
    root = tmp_path_factory.mktemp("demo_footage")
    paths = write_board_footage(root, frames, truth, fmt="png")
    return {"paths": paths, "truth": truth, "frames": frames, "root": root}


@pytest.fixture
def footage_dir(tmp_path) -> Path:
    return tmp_path / "footage"
