"""mocap3d: multi-camera 3D motion capture of animal behaviour, on one clock with EMG and force.

The public API is importable without torch::

    from mocap3d import CameraGroup, load_rig
    group = CameraGroup.load("calibration.toml")
"""

from mocap3d._version import __version__
from mocap3d.camera import Camera, CameraGroup
from mocap3d.errors import InputError, Mocap3dError
from mocap3d.rig import Rig, load_rig

__all__ = ["Camera", "CameraGroup", "InputError", "Mocap3dError", "Rig", "__version__", "load_rig"]
