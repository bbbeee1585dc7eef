"""Calibration of camera rigs from ChArUco footage."""

from mocap3d.calibration.board import BoardSpec, load_board_spec

__all__ = ["BoardSpec", "load_board_spec"]
