"""Shared fixtures: seeded random generators, paths to the repository and real data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def _real_data_root() -> Path:
    env = os.environ.get("MOCAP3D_REAL_DATA")
    if env:
        return Path(env)
    for candidate in (REPO.parent / "shared" / "data" / "real", Path("/work/shared/data/real")):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "data" / "real"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Real recordings (read-only): $MOCAP3D_REAL_DATA, ../shared/data/real or /work/shared."""
    root = _real_data_root()
    if not root.is_dir():
        pytest.skip(f"real data folder {root} not found; set MOCAP3D_REAL_DATA to its path")
    return root


@pytest.fixture(scope="session")
def seed_rig_path() -> Path:
    return REPO / "rigs" / "mouse-jump-4cam.toml"


@pytest.fixture(scope="session")
def demo_rig_path() -> Path:
    return REPO / "rigs" / "demo.toml"
