"""Rig definitions: cameras, calibration board, DAQ channels, sync wiring, skeleton and angles.

A rig is a TOML file (``rigs/<name>.toml``) that every step reads. :func:`load_rig` validates it
and reports *every* problem at once, each with its field path and a fix; ``mocap3d rig check``
prints that report. See ``rigs/mouse-jump-4cam.toml`` for a complete, commented example.
"""

from __future__ import annotations

import math
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from mocap3d.calibration.board import BoardSpec, load_board_spec
from mocap3d.errors import InputError, Problem, ProblemsError

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]*$"
EXAMPLE = "rigs/mouse-jump-4cam.toml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSpec(_Model):
    """A hardware-triggered camera."""

    name: str = Field(pattern=NAME_PATTERN)
    resolution: tuple[int, int] = Field(description="(width, height) in pixels")
    fps: float = Field(gt=0, le=100_000)
    lens: Literal["pinhole", "fisheye"] = "pinhole"
    model: str = ""
    serial: str = ""
    exposure_us: float | None = Field(default=None, gt=0)
    exposure_channel: str | None = Field(
        default=None, description="DAQ channel that records this camera's exposure pulses"
    )


class StreamSpec(_Model):
    """A group of analog inputs sampled together on one hardware clock."""

    rate_hz: float = Field(gt=0, le=10_000_000)
    device: str | None = Field(default=None, description="DAQ device; default daq.device")


class ChannelSpec(_Model):
    """An analog input channel. Physical value = volts · scale + offset, in ``unit``."""

    name: str = Field(pattern=NAME_PATTERN)
    stream: str
    terminal: str = Field(min_length=1, description="physical terminal, e.g. ai0")
    kind: Literal["emg", "force", "displacement", "ttl", "analog"]
    unit: str = Field(min_length=1)
    scale: float = 1.0
    offset: float = 0.0
    range_v: tuple[float, float] = (-10.0, 10.0)
    terminal_config: Literal["default", "rse", "nrse", "differential", "pseudodifferential"] = (
        "default"
    )
    muscle: str = ""


class CameraTriggerSpec(_Model):
    """A counter output that triggers the cameras, started by the master stream's start."""

    counter: str = "ctr0"
    output_terminal: str = "PFI12"
    duty_cycle: float = Field(default=0.2, gt=0, lt=1)
    cameras: list[str] = Field(default_factory=list, description="empty: every camera")


class DaqSpec(_Model):
    device: str = "Dev1"
    backend: Literal["nidaqmx", "sim"] = "nidaqmx"
    master_stream: str
    streams: dict[str, StreamSpec]
    channels: list[ChannelSpec]
    camera_trigger: CameraTriggerSpec | None = None


class SyncBoxSpec(_Model):
    """A serial sync box (see mocap3d.acquisition.syncbox)."""

    port: str
    baudrate: int = Field(default=115_200, gt=0)
    timeout_s: float = Field(default=1.0, gt=0)
    ttl_channel: str | None = None


class CalibrationSpec(_Model):
    board: str = Field(description="board spec TOML, relative to the rig file")
    reference_camera: str | None = None
    world_frame: Literal["board_on_platform", "reference_points", "camera"] = "board_on_platform"


class SkeletonSpec(_Model):
    keypoints: list[str] = Field(min_length=1)
    bones: list[tuple[str, str]] = Field(default_factory=list)
    body_length: tuple[str, str] | None = Field(
        default=None, description="two keypoints whose distance normalises PCK"
    )
    left_right: list[tuple[str, str]] = Field(default_factory=list)


class AngleSpec(_Model):
    """A joint angle. ``flexion``: angle at the middle of three points; ``segment``: angle of
    the segment between two points to the platform plane; ``signed``: flexion signed by the
    rotation direction about the body axis ``axis`` (two keypoints)."""

    type: Literal["flexion", "segment", "signed"] = "flexion"
    points: list[str]
    axis: tuple[str, str] | None = None


class ArenaSpec(_Model):
    platform_size_mm: tuple[float, float] = (60.0, 60.0)
    gravity_axis: Literal["-z", "z"] = "-z"
    platform_moving_mass_g: float | None = Field(
        default=None,
        ge=0,
        description="mass between the animal and the load cell; when set, the force is "
        "corrected for the platform's acceleration measured by the displacement channel",
    )


class Rig(_Model):
    """A validated rig. Build it with :func:`load_rig` or :func:`rig_from_dict`."""

    name: str = Field(min_length=1)
    description: str = ""
    cameras: list[CameraSpec] = Field(min_length=1)
    calibration: CalibrationSpec
    skeleton: SkeletonSpec
    angles: dict[str, AngleSpec] = Field(default_factory=dict)
    daq: DaqSpec | None = None
    syncbox: SyncBoxSpec | None = None
    arena: ArenaSpec = ArenaSpec()

    _board: BoardSpec | None = PrivateAttr(default=None)
    _path: Path | None = PrivateAttr(default=None)

    @property
    def camera_names(self) -> list[str]:
        return [c.name for c in self.cameras]

    @property
    def keypoints(self) -> list[str]:
        return list(self.skeleton.keypoints)

    @property
    def board(self) -> BoardSpec:
        """The calibration board spec the rig refers to."""
        if self._board is None:
            raise InputError(f"rig {self.name!r} was built without its board; use load_rig()")
        return self._board

    @property
    def path(self) -> Path | None:
        """The TOML file the rig was read from, if any."""
        return self._path

    @property
    def fps(self) -> float:
        """The cameras' common frame rate."""
        rates = {c.fps for c in self.cameras}
        if len(rates) != 1:
            raise InputError(f"rig {self.name!r}: cameras run at different fps {sorted(rates)}")
        return rates.pop()

    def camera(self, name: str) -> CameraSpec:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise InputError(
            f"rig {self.name!r} has no camera {name!r}; its cameras are {self.camera_names}"
        )

    def channel(self, name: str) -> ChannelSpec:
        if self.daq is not None:
            for ch in self.daq.channels:
                if ch.name == name:
                    return ch
        found = [c.name for c in self.daq.channels] if self.daq else []
        raise InputError(f"rig {self.name!r} has no DAQ channel {name!r}; its channels: {found}")

    def channels_of(self, stream: str) -> list[ChannelSpec]:
        """The channels of one DAQ stream, in file order."""
        return [c for c in self.daq.channels if c.stream == stream] if self.daq else []


# ---------------------------------------------------------------------------------- loading


def load_rig(path: str | Path) -> Rig:
    """Read and validate a rig TOML file.

    Raises
    ------
    ProblemsError
        Listing every problem found, each with its field path and a fix.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"rig file {path} does not exist; see {EXAMPLE} for an example")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"rig file {path} is not valid TOML: {exc}") from None
    return rig_from_dict(data, base_dir=path.parent, source=str(path), path=path)


def rig_from_dict(
    data: dict[str, Any],
    *,
    base_dir: Path | None = None,
    source: str = "rig",
    path: Path | None = None,
) -> Rig:
    """Validate a rig given as a dict (the parsed TOML). See :func:`load_rig`."""
    data = dict(data)
    if "rig" in data and isinstance(data["rig"], dict):  # [rig] name/description table
        data = {**data.pop("rig"), **data}
    problems, rig = _schema_problems(data)
    problems += check_references(data)
    board, board_problems = _load_board(data, base_dir)
    problems += board_problems
    if problems or rig is None:
        raise ProblemsError(source, _unique(problems))
    rig._board = board
    rig._path = path
    return rig


def _schema_problems(data: dict[str, Any]) -> tuple[list[Problem], Rig | None]:
    try:
        return [], Rig.model_validate(data)
    except ValidationError as exc:
        return [_problem_from_pydantic(err, data) for err in exc.errors()], None


def _problem_from_pydantic(err: Any, data: dict[str, Any]) -> Problem:
    where = _field_path(err["loc"], data)
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ")
    found = err.get("input")
    if kind == "missing":
        return Problem(where, "is required but missing", f"add `{where}` (see {EXAMPLE})")
    if kind == "extra_forbidden":
        return Problem(where, "is not a known field", "remove it or correct its spelling")
    if kind == "string_pattern_mismatch":
        return Problem(
            where,
            f"{found!r} is not a valid name",
            "use letters, digits, '_' or '-', starting with a letter",
        )
    return Problem(where, f"{msg} (found {found!r})", f"set `{where}` to a valid value")


def _field_path(loc: tuple[Any, ...], data: Any) -> str:
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and key < len(node):
                node = node[key]
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    label = f"[{key}]({node['name']})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts)


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _load_board(data: dict[str, Any], base_dir: Path | None) -> tuple[BoardSpec | None, list]:
    calib = data.get("calibration")
    board = calib.get("board") if isinstance(calib, dict) else None
    if not isinstance(board, str):
        return None, []  # reported by the schema
    board_path = Path(board) if base_dir is None else (base_dir / board)
    try:
        return load_board_spec(board_path), []
    except ProblemsError as exc:
        return None, [Problem(f"calibration.board ({board_path})", str(p)) for p in exc.problems]
    except InputError as exc:
        return None, [
            Problem(
                "calibration.board",
                str(exc),
                "give a board spec path relative to the rig file, e.g. "
                "../calibration/boards/charuco-7x5-10mm.toml",
            )
        ]


# ------------------------------------------------------------------- cross-reference checks


def _table(node: Any, key: str) -> dict[str, Any]:
    """``node[key]`` if both are tables, else an empty dict (wrong types: the schema says)."""
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, dict) else {}


def _list(node: Any, key: str) -> list[Any]:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, list) else []


def _items(node: Any, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    seq = node.get(key) if isinstance(node, dict) else None
    if isinstance(seq, list):
        for i, item in enumerate(seq):
            if isinstance(item, dict):
                yield i, item


def _label(section: str, i: int, item: dict[str, Any]) -> str:
    name = item.get("name")
    return f"{section}[{i}]({name})" if isinstance(name, str) else f"{section}[{i}]"


def _duplicates(section: str, items: list[tuple[int, dict[str, Any]]], key: str) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for i, item in items:
        value = item.get(key)
        if not isinstance(value, str):
            continue
        if value in first:
            problems.append(
                Problem(
                    f"{section}[{i}].{key}",
                    f"{value!r} is already the {key} of {section}[{first[value]}]",
                    f"give every entry of `{section}` a different {key}",
                )
            )
        else:
            first[value] = i
    return problems


def check_references(data: dict[str, Any]) -> list[Problem]:
    """Cross-field checks on a parsed rig dict; tolerant of fields with wrong types.

    Run even when the schema fails, so that one report lists everything.
    """
    problems: list[Problem] = []
    cameras = list(_items(data, "cameras"))
    cam_names = {c["name"] for _, c in cameras if isinstance(c.get("name"), str)}
    problems += _duplicates("cameras", cameras, "name")

    skeleton = _table(data, "skeleton")
    keypoints = _list(skeleton, "keypoints")
    kp_set = {k for k in keypoints if isinstance(k, str)}
    problems += _skeleton_problems(skeleton, keypoints, kp_set)
    problems += _angle_problems(data.get("angles"), kp_set)

    daq = data["daq"] if isinstance(data.get("daq"), dict) else None
    channels = {c["name"]: c for _, c in _items(daq, "channels") if isinstance(c.get("name"), str)}
    if daq is not None:
        problems += _daq_problems(daq, cam_names)
    checked: set[str] = set()
    for i, cam in cameras:
        exposure = cam.get("exposure_channel")
        if exposure is None or daq is None:
            continue
        where = _label("cameras", i, cam) + ".exposure_channel"
        if exposure not in channels:
            problems.append(Problem(where, f"unknown DAQ channel {exposure!r}", _one_of(channels)))
        elif exposure not in checked:
            checked.add(exposure)
            problems += _ttl_rate_problems(where, channels[exposure], daq, cam.get("fps"))

    ref = _table(data, "calibration").get("reference_camera")
    if isinstance(ref, str) and ref not in cam_names:
        problems.append(
            Problem("calibration.reference_camera", f"unknown camera {ref!r}", _one_of(cam_names))
        )
    ttl = _table(data, "syncbox").get("ttl_channel")
    if isinstance(ttl, str) and daq is not None and ttl not in channels:
        problems.append(
            Problem("syncbox.ttl_channel", f"unknown DAQ channel {ttl!r}", _one_of(channels))
        )
    return problems


def _one_of(names: Any) -> str:
    names = sorted(names)
    return f"use one of {names}" if names else "define it first"


def _skeleton_problems(skeleton: dict, keypoints: list, kp_set: set[str]) -> list[Problem]:
    problems = [
        Problem("skeleton.keypoints", f"{k!r} is listed {n} times", "list each keypoint once")
        for k, n in Counter(k for k in keypoints if isinstance(k, str)).items()
        if n > 1
    ]
    for field in ("bones", "left_right"):
        for i, pair in enumerate(_list(skeleton, field)):
            problems += _unknown_keypoints(f"skeleton.{field}[{i}]", pair, kp_set)
    if skeleton.get("body_length") is not None:
        problems += _unknown_keypoints("skeleton.body_length", skeleton["body_length"], kp_set)
    return problems


def _unknown_keypoints(where: str, names: Any, kp_set: set[str]) -> list[Problem]:
    if not isinstance(names, list):
        return []
    kp_list = ", ".join(sorted(kp_set))
    return [
        Problem(where, f"unknown keypoint {k!r}", f"use one of skeleton.keypoints {kp_list}")
        for k in names
        if isinstance(k, str) and k not in kp_set
    ]


def _angle_problems(angles: Any, kp_set: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(angles, dict):
        return problems
    needed = {"flexion": 3, "signed": 3, "segment": 2}
    for name, angle in angles.items():
        if not isinstance(angle, dict):
            continue
        points = angle.get("points")
        problems += _unknown_keypoints(f"angles.{name}.points", points, kp_set)
        n = needed.get(angle.get("type", "flexion"))
        if n is not None and isinstance(points, list) and len(points) != n:
            problems.append(
                Problem(
                    f"angles.{name}.points",
                    f"a {angle.get('type', 'flexion')} angle needs {n} keypoints, "
                    f"found {len(points)}",
                    f"list exactly {n} keypoints",
                )
            )
        if angle.get("type") == "signed" and angle.get("axis") is None:
            problems.append(
                Problem(
                    f"angles.{name}.axis",
                    "a signed angle needs a body axis",
                    "add axis = [from_keypoint, to_keypoint]",
                )
            )
        problems += _unknown_keypoints(f"angles.{name}.axis", angle.get("axis"), kp_set)
    return problems


def _daq_problems(daq: dict[str, Any], cam_names: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    streams = _table(daq, "streams")
    master = daq.get("master_stream")
    if isinstance(master, str) and master not in streams:
        problems.append(
            Problem("daq.master_stream", f"unknown stream {master!r}", _one_of(streams))
        )
    channels = list(_items(daq, "channels"))
    problems += _duplicates("daq.channels", channels, "name")
    device = daq.get("device", "Dev1")
    used: dict[tuple[Any, Any], str] = {}
    for i, ch in channels:
        where = _label("daq.channels", i, ch)
        stream = ch.get("stream")
        if isinstance(stream, str) and stream not in streams:
            problems.append(
                Problem(f"{where}.stream", f"unknown stream {stream!r}", _one_of(streams))
            )
        dev = _table(streams, stream).get("device", device) if isinstance(stream, str) else device
        key = (dev, ch.get("terminal"))
        if isinstance(key[1], str):
            if key in used:
                problems.append(
                    Problem(
                        f"{where}.terminal",
                        f"terminal {dev}/{key[1]} is already used by channel {used[key]!r}",
                        "wire each channel to its own terminal",
                    )
                )
            else:
                used[key] = str(ch.get("name"))
        rng = _list(ch, "range_v")
        numeric = len(rng) == 2 and all(isinstance(v, int | float) for v in rng)
        if numeric and not rng[0] < rng[1]:
            problems.append(
                Problem(
                    f"{where}.range_v",
                    f"min must be below max, found {rng}",
                    "write it as [min_volts, max_volts]",
                )
            )
        scale = ch.get("scale", 1.0)
        if isinstance(scale, int | float) and (scale == 0 or not math.isfinite(scale)):
            problems.append(
                Problem(
                    f"{where}.scale",
                    f"must be finite and non-zero, found {scale}",
                    "set the sensor's units per volt",
                )
            )
    for i, cam in enumerate(_list(_table(daq, "camera_trigger"), "cameras")):
        if isinstance(cam, str) and cam not in cam_names:
            problems.append(
                Problem(
                    f"daq.camera_trigger.cameras[{i}]",
                    f"unknown camera {cam!r}",
                    _one_of(cam_names),
                )
            )
    return problems


def _ttl_rate_problems(where: str, channel: dict, daq: dict, fps: Any) -> list[Problem]:
    problems = []
    if channel.get("kind") != "ttl":
        problems.append(
            Problem(
                where,
                f"channel {channel.get('name')!r} has kind {channel.get('kind')!r}, not 'ttl'",
                "point it at the channel wired to the exposure output",
            )
        )
    rate = _table(_table(daq, "streams"), str(channel.get("stream"))).get("rate_hz")
    if isinstance(rate, int | float) and isinstance(fps, int | float) and 0 < rate < 4 * fps:
        problems.append(
            Problem(
                where,
                f"stream {channel.get('stream')!r} samples at {rate} Hz, "
                f"too slow for {fps} fps exposure pulses",
                "sample TTL channels at ≥ 4× the frame rate",
            )
        )
    return problems
