"""Read an NWB file written by :func:`mocap3d.io.nwb.write_nwb` back into mocap3d's data model.

:func:`read_nwb` gives the whole file (poses, angles and signals over all its trials) and the
trials table; :meth:`NwbContents.trial` cuts one trial out as a
:class:`~mocap3d.results.TrialResults`. Numbers come back as they went in: positions in mm and
px, angles in radians, DAQ channels as the raw volts with their ``scale`` (NWB ``conversion``)
and ``offset``, times in seconds on the session clock.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from mocap3d.camera import Camera, CameraGroup
from mocap3d.datasets import make_poses2d, make_poses3d
from mocap3d.errors import InputError
from mocap3d.io.nwb import BEHAVIOR, EMG_MODULE, UNIT_NAMES
from mocap3d.io.nwb_poses import untag
from mocap3d.results import SessionInfo, TrialResults

_UNITS_BACK = {v: k for k, v in UNIT_NAMES.items()}
_VIEW = re.compile(r"\(view (\d+) of \d+\)(?:: (\d+)x(\d+) px, (\w+) lens)?")
_TRIAL_FIXED = ("start_time", "stop_time", "trial_name", "group")


def _times(ts: Any) -> np.ndarray:
    if ts.timestamps is not None:
        return np.asarray(ts.timestamps[:], dtype=np.float64)
    n = len(ts.data) if ts.data is not None else int(ts.num_samples)
    return float(ts.starting_time) + np.arange(n) / float(ts.rate)


def _in(t: np.ndarray, start: float, stop: float) -> np.ndarray:
    return np.asarray((t >= start - 1e-9) & (t < stop - 1e-9))


@dataclass
class NwbContents:
    """What an NWB file holds, in mocap3d's data model (see the module docstring)."""

    path: Path
    session: SessionInfo
    cameras: CameraGroup | None
    trials: pd.DataFrame
    poses2d: xr.Dataset | None = None
    poses3d: xr.Dataset | None = None
    angles: xr.DataArray | None = None
    envelopes: xr.DataArray | None = None
    signals: dict[str, xr.DataArray] = field(default_factory=dict)
    exposures: dict[str, np.ndarray] = field(default_factory=dict)
    videos: dict[str, list[tuple[Path, int]]] = field(default_factory=dict)

    def trial(self, name: str) -> TrialResults:
        """One trial: every time series cut to its window, its events and metrics."""
        if name not in self.trials.index:
            raise InputError(f"{self.path} has no trial {name!r}; it has {list(self.trials.index)}")
        row = self.trials.loc[name]
        a, b = float(row["start_time"]), float(row["stop_time"])

        def cut(x: Any) -> Any:
            return None if x is None else x.isel(time=_in(x["time"].values, a, b))

        events = {
            c[: -len("_time")]: float(row[c])
            for c in self.trials.columns
            if c.endswith("_time") and c not in _TRIAL_FIXED and np.isfinite(row[c])
        }
        metrics = {
            c: _scalar(row[c])
            for c in self.trials.columns
            if c not in _TRIAL_FIXED and not c.endswith("_time")
        }
        videos = {}
        for cam, files in self.videos.items():
            t = self.exposures.get(cam)
            for file, first in files:
                if t is not None and first < t.size and _in(t[first : first + 1], a, b).all():
                    videos[cam] = file
        return TrialResults(
            name=name,
            start_s=a,
            stop_s=b,
            poses2d=cut(self.poses2d),
            poses3d=cut(self.poses3d),
            angles=cut(self.angles),
            envelopes=cut(self.envelopes),
            signals={k: cut(v) for k, v in self.signals.items()},
            events=events,
            metrics=metrics,
            exposures={k: v[_in(v, a, b)] for k, v in self.exposures.items()},
            videos=videos,
            labels={"group": str(row.get("group", ""))},
        )


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _cameras(nwb: Any) -> tuple[CameraGroup | None, list[str]]:
    order: list[tuple[int, str]] = []
    cams: dict[str, Camera] = {}
    for name, dev in nwb.devices.items():
        m = _VIEW.search(dev.description or "")
        if m is None:
            continue
        order.append((int(m.group(1)), name))
        if getattr(dev, "intrinsic_matrix", None) is not None and m.group(2):
            cams[name] = Camera(
                name,
                (int(m.group(2)), int(m.group(3))),
                np.asarray(dev.intrinsic_matrix[:], dtype=np.float64),
                np.asarray(dev.distortion_coefficients[:], dtype=np.float64),
                "fisheye" if m.group(4) == "fisheye" else "pinhole",
                np.asarray(dev.rotation_matrix[:], dtype=np.float64),
                np.asarray(dev.translation_vector[:], dtype=np.float64),
            )
    views = [n for _, n in sorted(order)]
    group = CameraGroup(tuple(cams[v] for v in views if v in cams)) if cams else None
    return group, views


def _poses(
    behavior: Any, keypoints: list[str], views: list[str]
) -> tuple[xr.Dataset | None, xr.Dataset | None, xr.DataArray | None]:
    multi = {
        k: v
        for k, v in behavior.data_interfaces.items()
        if type(v).__name__ == "MultiCameraPoseEstimation"
    }
    individuals = [m.skeleton.name for m in multi.values()] or sorted(
        behavior["Skeletons"].skeletons
    )
    p3: list[Any] = []
    p2: list[Any] = []
    for m in multi.values():
        if m.pose_estimation_series:
            s = m.pose_estimation_series
            p3.append(np.stack([s[k].data[:] for k in keypoints], axis=-1))  # (time, 3, kp)
            t3 = _times(s[keypoints[0]])
        if m.pose_estimations:
            pe = m.pose_estimations
            cams = [v for v in views if v in pe]
            pos = [[pe[v].pose_estimation_series[k].data[:] for k in keypoints] for v in cams]
            conf = [
                [pe[v].pose_estimation_series[k].confidence[:] for k in keypoints] for v in cams
            ]
            p2.append((np.transpose(np.array(pos), (0, 2, 3, 1)), np.transpose(conf, (0, 2, 1))))
            t2 = _times(pe[cams[0]].pose_estimation_series[keypoints[0]])
            source = pe[cams[0]].source_software
    extra: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    angles: dict[str, dict[int, tuple[str, np.ndarray, np.ndarray]]] = defaultdict(dict)
    for ts in behavior.data_interfaces.values():
        info = untag(getattr(ts, "comments", None))
        if "variable" in info:
            extra[info["variable"]][info["individual"]] = np.asarray(ts.data[:])
        elif "joint" in info:
            angles[info["individual"]][info["index"]] = (info["joint"], _times(ts), ts.data[:])
    poses3d = None
    if p3:
        poses3d = make_poses3d(
            np.stack(p3, axis=-1),
            keypoints=keypoints,
            individuals=individuals,
            time=t3,
            reprojection_error=np.stack([extra["reprojection_error"][i] for i in individuals], -1),
            n_views=np.stack([extra["n_views"][i] for i in individuals], -1),
        )
    poses2d = None
    if p2:
        poses2d = make_poses2d(
            np.stack([p for p, _ in p2], axis=-1),
            np.stack([c for _, c in p2], axis=-1),
            views=[v for v in views if v in multi[next(iter(multi))].pose_estimations],
            keypoints=keypoints,
            individuals=individuals,
            time=t2,
            source_software=source or "",
        )
    ang = None
    if angles:
        first = angles[individuals[0]]
        joints = [first[i][0] for i in sorted(first)]
        data = np.stack(
            [np.stack([angles[ind][i][2] for i in sorted(first)], -1) for ind in individuals], -1
        )
        ang = xr.DataArray(
            data,
            dims=("time", "joint", "individual"),
            coords={"time": first[0][1], "joint": joints, "individual": individuals},
            name="angle",
            attrs={"units": "rad"},
        )
    return poses2d, poses3d, ang


def _signals(series: list[Any], key: str = "stream") -> dict[str, xr.DataArray]:
    groups: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    for ts in series:
        info = untag(ts.comments)
        groups[str(info.get(key, ""))].append((int(info["index"]), ts))
    out = {}
    for name, items in groups.items():
        items.sort(key=lambda x: x[0])
        chans = [ts for _, ts in items]
        raw = key == "stream"
        infos = [untag(ts.comments) for ts in chans]
        coords: dict[str, Any] = {
            "time": _times(chans[0]),
            "channel": [
                ts.name if raw else str(i["channel"]) for ts, i in zip(chans, infos, strict=False)
            ],
            "unit": ("channel", [_UNITS_BACK.get(ts.unit, ts.unit) for ts in chans]),
        }
        if raw:
            coords["kind"] = ("channel", [i["kind"] for i in infos])
            coords["muscle"] = ("channel", [i["muscle"] for i in infos])
            if any(i.get("raw") for i in infos):
                coords["scale"] = ("channel", [float(ts.conversion) for ts in chans])
                coords["offset"] = ("channel", [float(ts.offset) for ts in chans])
        da = xr.DataArray(
            np.stack([np.asarray(ts.data[:]) for ts in chans], axis=-1),
            dims=("time", "channel"),
            coords=coords,
            name="signal" if raw else "envelope",
        )
        if chans[0].rate is not None:
            da.attrs["rate_hz"] = float(chans[0].rate)
        out[name] = da
    return out


def read_nwb(path: str | Path) -> NwbContents:
    """Read an NWB file written by mocap3d (see the module docstring)."""
    from pynwb import NWBHDF5IO

    path = Path(path)
    if not path.is_file():
        raise InputError(f"NWB file {path} does not exist")
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        if BEHAVIOR not in nwb.processing:
            raise InputError(f"{path} has no '{BEHAVIOR}' processing module; not a mocap3d export")
        behavior = nwb.processing[BEHAVIOR]
        skeleton = next(iter(behavior["Skeletons"].skeletons.values()))
        keypoints = [str(k) for k in skeleton.nodes[:]]
        bones = [(keypoints[a], keypoints[b]) for a, b in skeleton.edges[:]]
        subj = nwb.subject
        session = SessionInfo(
            name=nwb.session_id or path.stem,
            start_time=nwb.session_start_time.astimezone(_dt.UTC),
            keypoints=keypoints,
            bones=bones,
            subject=subj.subject_id or "",
            group=(subj.description or "").removeprefix("group: "),
            species=subj.species or "",
            sex=subj.sex or "U",
            age=subj.age or "",
            strain=subj.strain or "",
            genotype=subj.genotype or "",
            weight=subj.weight or "",
            date_of_birth=subj.date_of_birth,
            description=nwb.session_description or "",
            experiment_description=nwb.experiment_description or "",
            notes=nwb.notes or "",
            experimenter=tuple(nwb.experimenter or ()),
            lab=nwb.lab or "",
            institution=nwb.institution or "",
            keywords=tuple(str(k) for k in (nwb.keywords[:] if nwb.keywords is not None else ())),
        )
        cameras, views = _cameras(nwb)
        poses2d, poses3d, angles = _poses(behavior, keypoints, views)
        trials = nwb.trials.to_dataframe().set_index("trial_name") if nwb.trials else None
        acq = [ts for ts in nwb.acquisition.values() if "stream" in untag(ts.comments or "")]
        signals = _signals(acq)
        envelopes = None
        if EMG_MODULE in nwb.processing:
            env = _signals(list(nwb.processing[EMG_MODULE].data_interfaces.values()), "")
            envelopes = env.get("")
        exposures: dict[str, np.ndarray] = {}
        if "camera_exposures" in nwb.intervals:
            df = nwb.intervals["camera_exposures"].to_dataframe()
            for cam, part in df.groupby("camera", sort=False):
                exposures[str(cam)] = part["start_time"].to_numpy(np.float64)
        videos: dict[str, list[tuple[Path, int]]] = {}
        for name, obj in nwb.acquisition.items():
            if name.startswith("video_") and type(obj).__name__ == "ImageSeries":
                cam = name[len("video_") :]
                if cam not in exposures:
                    exposures[cam] = _times(obj)
                videos[cam] = [
                    ((path.parent / f).resolve(), int(k))
                    for f, k in zip(obj.external_file[:], obj.starting_frame[:], strict=True)
                ]
    return NwbContents(
        path=path,
        session=session,
        cameras=cameras,
        trials=trials if trials is not None else pd.DataFrame(),
        poses2d=poses2d,
        poses3d=poses3d,
        angles=angles,
        envelopes=envelopes,
        signals=signals,
        exposures=exposures,
        videos=videos,
    )
