"""What the pipeline knows about a trial and a session: the content every output is made from.

The exports (NWB, CSV), figures, overlay videos and HTML reports all take these containers, so
each can be built from whatever exists — the simulator's truth today, the real pipeline's
datasets as they land. Every field but the trial's name and time window is optional.

=============  ===================================================================  ===========
field          content (dims)                                                       units
=============  ===================================================================  ===========
poses2d        position (view, time, space, keypoint, individual), confidence;      px
               optional ``exposure_time`` (view, time) and ``frame_index``
               (view, time) from :func:`mocap3d.sync.tracks.place_tracks`
poses3d        position (time, space, keypoint, individual), reprojection_error,    mm
               n_views
angles         (time, joint, individual)                                            rad
signals        per DAQ stream a DataArray (time, channel) with coords ``unit``      see below
               (channel); raw volts when coords ``scale`` and ``offset`` are
               present (physical = volts · scale + offset), else physical values
envelopes      EMG envelopes (time, channel), coord ``unit``                        V
events         name → time                                                          s
metrics        name → value; names carry their unit (``jump_height_mm``)
exposures      camera → exposure start of every video frame, (n_frames,)            s
videos         camera → raw video file
=============  ===================================================================  ===========

Times are seconds on the session's master (DAQ) clock.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from mocap3d.datasets import DEFAULT_INDIVIDUAL, validate_poses2d, validate_poses3d
from mocap3d.errors import InputError

ANGLE_DIMS = ("time", "joint", "individual")
SIGNAL_DIMS = ("time", "channel")


def validate_angles(angles: xr.DataArray) -> xr.DataArray:
    """Check joint angles (time, joint[, individual]) in radians; adds ``individual`` if absent.

    Returns the angles with dims in the order (time, joint, individual).
    """
    if not isinstance(angles, xr.DataArray):
        raise InputError(f"angles must be an xarray.DataArray, found {type(angles).__name__}")
    if "individual" not in angles.dims:
        angles = angles.expand_dims(individual=[DEFAULT_INDIVIDUAL], axis=-1)
    missing = [d for d in ANGLE_DIMS if d not in angles.dims]
    extra = [d for d in angles.dims if d not in ANGLE_DIMS]
    if missing or extra:
        raise InputError(
            f"angles must have dims {ANGLE_DIMS}; missing {missing}, unexpected {extra}"
        )
    unit = angles.attrs.get("units", "rad")
    if unit not in ("rad", "radians"):
        raise InputError(f"angles must be in radians (attrs units='rad'), found units={unit!r}")
    return angles.transpose(*ANGLE_DIMS)


def validate_signal(signal: xr.DataArray, *, name: str = "signal") -> xr.DataArray:
    """Check a DAQ signal (time, channel) with a ``unit`` coordinate per channel."""
    if not isinstance(signal, xr.DataArray):
        raise InputError(f"{name} must be an xarray.DataArray, found {type(signal).__name__}")
    missing = [d for d in SIGNAL_DIMS if d not in signal.dims]
    extra = [d for d in signal.dims if d not in SIGNAL_DIMS]
    if missing or extra:
        raise InputError(
            f"{name} must have dims {SIGNAL_DIMS}; missing {missing}, unexpected {extra}"
        )
    if "unit" not in signal.coords:
        raise InputError(
            f"{name} has no 'unit' coordinate along 'channel'; read it with "
            "mocap3d.io.rawdaq.read_stream, which adds one"
        )
    if ("scale" in signal.coords) != ("offset" in signal.coords):
        raise InputError(f"{name}: give both 'scale' and 'offset' coordinates (raw volts) or none")
    return signal.transpose(*SIGNAL_DIMS)


def physical(signal: xr.DataArray) -> xr.DataArray:
    """Physical values of a signal: raw volts · scale + offset (unchanged if already physical)."""
    signal = validate_signal(signal)
    if "scale" not in signal.coords:
        return signal
    out = signal * signal["scale"] + signal["offset"]
    out = out.drop_vars(["scale", "offset"])
    out.attrs = dict(signal.attrs)
    out.name = signal.name
    return out


@dataclass(frozen=True)
class TrialResults:
    """One trial's results, on the session's master clock (see the module docstring).

    Parameters
    ----------
    name : str
        Trial name (``trial_001``).
    start_s, stop_s : float
        The trial's time window, s on the master clock.
    """

    name: str
    start_s: float
    stop_s: float
    poses2d: xr.Dataset | None = None
    poses3d: xr.Dataset | None = None
    angles: xr.DataArray | None = None
    signals: Mapping[str, xr.DataArray] = field(default_factory=dict)
    envelopes: xr.DataArray | None = None
    events: Mapping[str, float] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    exposures: Mapping[str, np.ndarray] = field(default_factory=dict)
    videos: Mapping[str, Path] = field(default_factory=dict)
    labels: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"trial {self.name!r}"
        if not (np.isfinite(self.start_s) and np.isfinite(self.stop_s)):
            raise InputError(f"{where}: start_s and stop_s must be finite seconds")
        if self.stop_s <= self.start_s:
            raise InputError(
                f"{where}: stop_s ({self.stop_s}) must be after start_s ({self.start_s})"
            )
        if self.poses2d is not None:
            object.__setattr__(self, "poses2d", validate_poses2d(self.poses2d))
        if self.poses3d is not None:
            object.__setattr__(self, "poses3d", validate_poses3d(self.poses3d))
        if self.angles is not None:
            object.__setattr__(self, "angles", validate_angles(self.angles))
        if self.envelopes is not None:
            object.__setattr__(
                self, "envelopes", validate_signal(self.envelopes, name=f"{where} envelopes")
            )
        signals = {
            str(k): validate_signal(v, name=f"{where} stream {k!r}")
            for k, v in self.signals.items()
        }
        object.__setattr__(self, "signals", signals)
        bad = {k: v for k, v in self.events.items() if not isinstance(v, int | float | np.number)}
        if bad:
            raise InputError(f"{where}: events must be times in seconds, found {bad}")
        object.__setattr__(self, "events", {str(k): float(v) for k, v in self.events.items()})
        object.__setattr__(
            self,
            "exposures",
            {str(k): np.asarray(v, dtype=np.float64).ravel() for k, v in self.exposures.items()},
        )
        object.__setattr__(self, "videos", {str(k): Path(v) for k, v in self.videos.items()})

    @property
    def individuals(self) -> list[str]:
        for ds in (self.poses3d, self.poses2d):
            if ds is not None:
                return [str(i) for i in ds["individual"].values]
        if self.angles is not None:
            return [str(i) for i in self.angles["individual"].values]
        return [DEFAULT_INDIVIDUAL]


@dataclass(frozen=True)
class SessionInfo:
    """Who and when: metadata of a recording session for exports and reports.

    Parameters
    ----------
    name : str
        Session name (its folder name).
    start_time : datetime
        When the master clock's zero was (the DAQ start), timezone-aware.
    keypoints : sequence of str
        The skeleton's keypoints, in the rig's order.
    bones : sequence of (str, str)
        Skeleton edges by keypoint name.
    sex : {"M", "F", "O", "U"}
        NWB's codes; ``U`` (unknown) when not given.
    age : str
        ISO 8601 duration (``P12W``) at the session; give it or ``date_of_birth`` (DANDI
        requires one).
    """

    name: str
    start_time: _dt.datetime
    keypoints: Sequence[str]
    bones: Sequence[tuple[str, str]] = ()
    subject: str = ""
    group: str = ""
    species: str = "Mus musculus"
    sex: str = "U"
    age: str = ""
    date_of_birth: _dt.datetime | None = None
    strain: str = ""
    genotype: str = ""
    weight: str = ""
    description: str = ""
    experiment_description: str = ""
    notes: str = ""
    experimenter: Sequence[str] = ()
    lab: str = ""
    institution: str = ""
    keywords: Sequence[str] = ("mouse", "jumping", "3D pose estimation", "EMG", "force plate")
    world_frame: str = (
        "calibration world frame: origin at the force platform's top centre, "
        "x along the jump, y to the left, z up; millimetres"
    )

    def __post_init__(self) -> None:
        if self.start_time.tzinfo is None:
            raise InputError(
                f"session {self.name!r}: start_time must be timezone-aware "
                "(e.g. datetime(..., tzinfo=datetime.UTC))"
            )
        kp = [str(k) for k in self.keypoints]
        unknown = sorted({k for b in self.bones for k in b} - set(kp))
        if unknown:
            raise InputError(f"session {self.name!r}: bones name keypoints {unknown} not in {kp}")
        if self.sex not in ("M", "F", "O", "U"):
            raise InputError(
                f"session {self.name!r}: sex must be M, F, O or U (unknown), found {self.sex!r}"
            )
        if self.age and not self.age.startswith("P"):
            raise InputError(
                f"session {self.name!r}: age must be an ISO 8601 duration such as 'P12W' or "
                f"'P90D', found {self.age!r}"
            )
        object.__setattr__(self, "keypoints", kp)
        object.__setattr__(self, "bones", [(str(a), str(b)) for a, b in self.bones])
