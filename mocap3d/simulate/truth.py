"""The ground-truth file of a simulated session: everything later steps should recover.

One HDF5 file per session (``sessions/<s>/truth/truth.h5``), layout ``mocap3d.sim_truth``
version 1. Times are seconds on the session's master (DAQ) clock unless named otherwise::

    /                      attrs: layout, layout_version, rig, session, seed, fps,
                                  master_rate_hz, exposure_s, keypoints, angles, views,
                                  faults (JSON), camera_clocks (JSON), stream_clocks (JSON)
    /cameras/<name>        attrs: size, model, K, dist, R, t  (also truth/calibration.toml)
    /syncbox/box_time_s    (n,) pulse times on the sync box clock
    /syncbox/master_time_s (n,) the same pulses on the master clock; attrs offset_s, drift_ppm
    /ttl_extra             (m, 2) spurious exposure pulses: start_s, width_s
    /trials/<trial>        attrs: group, subject, seed, start_s, start_sample, n_frames,
                                  events (JSON, master clock), takeoff_velocity_m_s (3,),
                                  jump_height_mm, jump_height_flight_mm, flight_time_s,
                                  mass_kg, params (JSON)
        frame_time_s       (n,) exposure start of each triggered frame (TTL rising edge)
        frame_sample       (n,) first master-stream sample where that pulse is high
        pose_time_s        (n,) mid-exposure: when the poses below are sampled
        keypoints3d        (n, K, 3) mm, world frame
        com                (n, 3) mm;  com_velocity (n, 3) m/s
        angles             (n, J) rad (attr names)
        uv                 (V, n, K, 2) px, exact distorted projections
        visible            (V, n, K) uint8, marker seen by the camera
        video_frame        (V, n) index of each triggered frame in the camera's video, −1 dropped
        tracks             (V, n, K, 2), track_confidence (V, n, K): a simulated tracker
        track_fault        (V, n, K) int8: 0 none, 1 outlier, 2 left/right swap, 3 missing
        ttl_missing        (m,) triggered frames whose exposure pulse is missing on the DAQ
        labelled_frames    (L,) triggered frames saved as labelled PNGs
        emg_bursts         table: channel, muscle, phase, onset_s, offset_s, amplitude_v
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from mocap3d.camera import Camera, CameraGroup
from mocap3d.datasets import make_poses2d, make_poses3d
from mocap3d.errors import InputError, LayoutVersionError
from mocap3d.io.atomic import atomic_path

LAYOUT = "mocap3d.sim_truth"
LAYOUT_VERSION = 1
BURST_DTYPE = np.dtype(
    [
        ("channel", "S32"),
        ("muscle", "S48"),
        ("phase", "S16"),
        ("onset_s", "<f8"),
        ("offset_s", "<f8"),
        ("amplitude_v", "<f8"),
    ]
)


@dataclass
class TrialTruth:
    """Truth of one trial (arrays as in the module docstring; attributes in ``attrs``)."""

    name: str
    attrs: dict[str, Any]
    arrays: dict[str, np.ndarray]
    keypoints: list[str]
    views: list[str]
    angle_names: list[str]

    @property
    def events(self) -> dict[str, float]:
        """Event times (s, master clock): onset, pushoff_start, takeoff, landing, …"""
        return dict(self.attrs["events"])

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def poses3d(self) -> xr.Dataset:
        """True 3D keypoints as a poses3d dataset (time = mid-exposure, master clock)."""
        pos = np.transpose(self.arrays["keypoints3d"], (0, 2, 1))[..., None]
        return make_poses3d(
            pos,
            keypoints=self.keypoints,
            time=self.arrays["pose_time_s"],
            fps=float(self.attrs["fps"]),
            source_software="mocap3d.simulate",
            n_views=self.arrays["visible"].sum(axis=0)[..., None],
            reprojection_error=np.zeros((len(pos), len(self.keypoints), 1)),
        )

    def poses2d(self, *, tracks: bool = False) -> xr.Dataset:
        """Exact 2D projections (NaN where not visible), or the simulated tracker's output."""
        if tracks:
            pos = self.arrays["tracks"]
            conf = self.arrays["track_confidence"]
        else:
            vis = self.arrays["visible"].astype(bool)
            pos = np.where(vis[..., None], self.arrays["uv"], np.nan)
            conf = np.where(vis, 1.0, np.nan)
        position = np.transpose(pos, (0, 1, 3, 2))[..., None]
        return make_poses2d(
            position,
            conf[..., None],
            views=self.views,
            keypoints=self.keypoints,
            time=self.arrays["pose_time_s"],
            fps=float(self.attrs["fps"]),
            source_software="mocap3d.simulate",
        )

    def emg_onsets(self, phase: str = "pushoff") -> dict[str, float]:
        """Burst onset per EMG channel in ``phase`` (s, master clock)."""
        b = self.arrays["emg_bursts"]
        return {
            row["channel"].decode(): float(row["onset_s"])
            for row in b
            if row["phase"].decode() == phase
        }


@dataclass
class SessionTruth:
    attrs: dict[str, Any]
    cameras: CameraGroup
    trials: dict[str, TrialTruth]
    syncbox_box_time_s: np.ndarray
    syncbox_master_time_s: np.ndarray
    ttl_extra: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))


def _json(v: Any) -> str:
    return json.dumps(
        v, sort_keys=True, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)
    )


def write_truth(
    path: str | Path,
    *,
    attrs: Mapping[str, Any],
    cameras: CameraGroup,
    trials: Sequence[tuple[str, Mapping[str, Any], Mapping[str, np.ndarray]]],
    syncbox: tuple[np.ndarray, np.ndarray, float, float],
    ttl_extra: np.ndarray,
) -> None:
    """Write a session truth file atomically (see the module docstring for the layout)."""
    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
        f.attrs["layout"] = LAYOUT
        f.attrs["layout_version"] = LAYOUT_VERSION
        for k, v in attrs.items():
            f.attrs[k] = _json(v) if isinstance(v, dict) else v
        cg = f.create_group("cameras", track_order=True)
        for cam in cameras:
            g = cg.create_group(cam.name)
            g.attrs["size"] = np.array(cam.size)
            g.attrs["model"] = cam.model
            for name in ("K", "dist", "R", "t"):
                g.attrs[name] = getattr(cam, name)
        sb = f.create_group("syncbox")
        sb.create_dataset("box_time_s", data=syncbox[0])
        sb.create_dataset("master_time_s", data=syncbox[1])
        sb.attrs["offset_s"], sb.attrs["drift_ppm"] = syncbox[2], syncbox[3]
        f.create_dataset("ttl_extra", data=np.asarray(ttl_extra, float).reshape(-1, 2))
        tg = f.create_group("trials", track_order=True)
        for name, tattrs, arrays in trials:
            g = tg.create_group(name, track_order=True)
            for k, v in tattrs.items():
                g.attrs[k] = _json(v) if isinstance(v, dict) else v
            for k, v in arrays.items():
                g.create_dataset(k, data=v, compression="gzip", compression_opts=4, shuffle=True)


def _attrs(node: h5py.HLObject) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in node.attrs.items():
        if isinstance(v, str) and v[:1] in "{[":
            try:
                out[k] = json.loads(v)
                continue
            except json.JSONDecodeError:
                pass
        out[k] = v.tolist() if isinstance(v, np.ndarray) and v.dtype.kind in "OU" else v
    return out


def read_truth(path: str | Path) -> SessionTruth:
    """Read a session truth file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"truth file {path} does not exist; simulate a session first")
    with h5py.File(path, "r") as f:
        if f.attrs.get("layout") != LAYOUT:
            raise InputError(
                f"{path} is not a simulator truth file (layout {f.attrs.get('layout')!r})"
            )
        version = int(f.attrs.get("layout_version", -1))
        if version != LAYOUT_VERSION:
            raise LayoutVersionError(
                f"{path} has truth layout version {version}; this mocap3d reads {LAYOUT_VERSION}"
            )
        attrs = _attrs(f)
        cams = []
        for name, g in f["cameras"].items():
            a = g.attrs
            cams.append(
                Camera(
                    name,
                    (int(a["size"][0]), int(a["size"][1])),
                    a["K"],
                    a["dist"],
                    "fisheye" if str(a["model"]) == "fisheye" else "pinhole",
                    a["R"],
                    a["t"],
                )
            )
        keypoints = [str(k) for k in attrs["keypoints"]]
        views = [str(v) for v in attrs["views"]]
        angles = [str(v) for v in attrs["angles"]]
        trials = {}
        for name, g in f["trials"].items():
            arrays = {k: d[...] for k, d in g.items()}
            tattrs = _attrs(g)
            tattrs.setdefault("fps", attrs["fps"])
            trials[name] = TrialTruth(name, tattrs, arrays, keypoints, views, angles)
        return SessionTruth(
            attrs=attrs,
            cameras=CameraGroup(tuple(cams), {"source": "mocap3d.simulate truth"}),
            trials=trials,
            syncbox_box_time_s=f["syncbox/box_time_s"][...],
            syncbox_master_time_s=f["syncbox/master_time_s"][...],
            ttl_extra=f["ttl_extra"][...],
        )
