"""Synthetic rigs, boards, jumping mice and DAQ streams with ground truth (tests + demo)."""

from mocap3d.simulate.rig_geometry import ARENA_TARGET, LayoutOptions, camera_layout

__all__ = ["ARENA_TARGET", "LayoutOptions", "camera_layout"]
