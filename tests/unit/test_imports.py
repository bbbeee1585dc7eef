"""Everything outside mocap3d.tracking imports without torch or DeepLabCut; no import prints."""

from __future__ import annotations

import subprocess
import sys

BLOCK_AND_IMPORT = r"""
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "torchvision", "deeplabcut", "tensorflow"}:
            raise ImportError(f"blocked for this test: {name}")
sys.meta_path.insert(0, Block())
import mocap3d
names = []
for info in pkgutil.walk_packages(mocap3d.__path__, "mocap3d."):
    if info.name.startswith("mocap3d.tracking") or info.name == "mocap3d.__main__":
        continue
    importlib.import_module(info.name)
    names.append(info.name)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"nidaqmx", "pynwb", "dask"})
print(len(names), "modules;", "heavy:", heavy)
"""


def test_package_imports_without_torch():
    out = subprocess.run(
        [sys.executable, "-c", BLOCK_AND_IMPORT], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    count = int(out.stdout.split()[0])
    assert count >= 10
    assert "heavy: []" in out.stdout  # nidaqmx, pynwb, dask are imported only where used
    assert out.stderr == ""
