"""Simulated rigs and motions with known 3D truth for the triangulation tests."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.camera import CameraGroup
from mocap3d.rig import Rig, load_rig
from mocap3d.simulate.rig_geometry import LayoutOptions, camera_layout
from tests.fixtures.synthetic_tracks import Motion, mouse_motion


@pytest.fixture(scope="session")
def demo_rig(demo_rig_path) -> Rig:
    return load_rig(demo_rig_path)


@pytest.fixture(scope="session")
def demo_group(demo_rig) -> CameraGroup:
    """Four pinhole cameras, 320×256, with barrel distortion."""
    return camera_layout(demo_rig)


@pytest.fixture(scope="session")
def seed_group(seed_rig_path) -> CameraGroup:
    """The seed rig: 1280×1024 pinhole cameras and a fisheye overhead camera."""
    return camera_layout(load_rig(seed_rig_path))


@pytest.fixture(scope="session")
def undistorted_group(demo_rig) -> CameraGroup:
    return camera_layout(demo_rig, options=LayoutOptions(distortion=False))


@pytest.fixture(scope="session")
def motion(demo_rig) -> Motion:
    """1.2 s of a jumping mouse at 500 fps, the demo rig's skeleton."""
    return mouse_motion(
        600, fps=500.0, seed=3, keypoints=demo_rig.keypoints, bones=demo_rig.skeleton.bones
    )


@pytest.fixture
def cloud(rng) -> np.ndarray:
    """3000 points spread over the jump volume, mm (incl. some within 2 mm of the origin)."""
    pts = np.array([30.0, 0.0, 30.0]) + rng.normal(0.0, 25.0, (3000, 3))
    pts[:100] = rng.normal(0.0, 1.0, (100, 3))
    return pts
