"""Shared fixtures of the simulator tests: a tiny demo rig session planned once."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.rig import load_rig
from mocap3d.simulate.jump import Jump
from mocap3d.simulate.jump_params import CONTROL, PERTURBED, draw_trial
from mocap3d.simulate.rig_geometry import camera_layout, scale_cameras


@pytest.fixture(scope="session")
def demo_rig(demo_rig_path):
    return load_rig(demo_rig_path)


@pytest.fixture(scope="session")
def demo_cameras(demo_rig):
    return camera_layout(demo_rig, seed=0)


@pytest.fixture(scope="session")
def tiny_cameras(demo_cameras):
    return scale_cameras(demo_cameras, 0.2)  # 64 × 51


@pytest.fixture(scope="session")
def control_jump() -> Jump:
    return Jump(draw_trial(CONTROL, 11))


@pytest.fixture(scope="session")
def perturbed_jump() -> Jump:
    return Jump(draw_trial(PERTURBED, 11))


@pytest.fixture(scope="session")
def frame_times() -> np.ndarray:
    return np.arange(0.0, 1.0, 1 / 500)
