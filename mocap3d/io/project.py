"""The project folder: rig, calibration footage, sessions of trials, derived files and outputs.

::

    PROJECT/
      project.toml                  [project] name, layout_version, rig = "rig.toml"
      rig.toml                      the rig (see rigs/)
      calibration/
        footage/<camera>.mp4        board videos, or footage/<camera>/ image folders
        calibration.toml            Anipose format (written by `mocap3d calibrate`)
      sessions/<session>/
        session.toml                [session] subject, group, date, notes; [trials.<t>] labels
        raw/daq.h5                  raw DAQ file (append-only, see mocap3d.io.rawdaq)
        raw/videos/<trial>/<camera>.mp4
        derived/session.h5          derived datasets (see mocap3d.io.session)
        outputs/                    exports, figures, reports

Raw files are never rewritten; everything under ``derived/`` and ``outputs/`` can be rebuilt.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from mocap3d.errors import InputError, LayoutVersionError
from mocap3d.io.atomic import write_text_atomic
from mocap3d.rig import Rig, load_rig

LAYOUT_VERSION = 1
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")


def natural_key(text: str) -> list[Any]:
    """Sort key that puts ``trial_2`` before ``trial_10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def _check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise InputError(f"invalid {kind} name {name!r}: use letters, digits, '_', '-' or '.'")
    return name


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {path} is not valid TOML: {exc}") from None


@dataclass(frozen=True)
class Session:
    """One recording session of one animal: a raw DAQ file and videos of several trials."""

    root: Path
    name: str
    subject: str = ""
    group: str = ""
    date: str = ""
    notes: str = ""
    trial_labels: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        return self.root / "session.toml"

    @property
    def raw_daq_path(self) -> Path:
        return self.root / "raw" / "daq.h5"

    @property
    def videos_dir(self) -> Path:
        return self.root / "raw" / "videos"

    @property
    def derived_path(self) -> Path:
        """The session HDF5 file of derived datasets."""
        return self.root / "derived" / "session.h5"

    @property
    def outputs_dir(self) -> Path:
        return self.root / "outputs"

    def trials(self) -> list[str]:
        """Trial names (folders under ``raw/videos``), in natural order."""
        if not self.videos_dir.is_dir():
            return []
        names = [p.name for p in self.videos_dir.iterdir() if p.is_dir()]
        return sorted(names, key=natural_key)

    def trial_dir(self, trial: str) -> Path:
        return self.videos_dir / _check_name("trial", trial)

    def video_path(self, trial: str, camera: str) -> Path:
        """The video of ``camera`` in ``trial``; raises if there is none."""
        folder = self.trial_dir(trial)
        for suffix in VIDEO_SUFFIXES:
            p = folder / f"{camera}{suffix}"
            if p.is_file():
                return p
        found = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        raise InputError(
            f"session {self.name!r}, trial {trial!r}: no video for camera "
            f"{camera!r} in {folder} (found {found}); name it {camera}.mp4"
        )

    def trial_videos(self, trial: str, cameras: list[str]) -> dict[str, Path]:
        return {cam: self.video_path(trial, cam) for cam in cameras}

    def labels(self, trial: str) -> dict[str, Any]:
        """Labels of a trial: the session's subject and group, overridden per trial."""
        base = {"session": self.name, "subject": self.subject, "group": self.group}
        return {**base, **self.trial_labels.get(trial, {})}


def read_session(root: str | Path) -> Session:
    """Read a session folder's ``session.toml``."""
    root = Path(root)
    data = _read_toml(root / "session.toml", "session manifest")
    meta = data.get("session", {})
    trials = data.get("trials", {})
    if not isinstance(meta, dict) or not isinstance(trials, dict):
        raise InputError(f"{root / 'session.toml'}: [session] and [trials.<name>] must be tables")
    return Session(
        root=root,
        name=root.name,
        subject=str(meta.get("subject", "")),
        group=str(meta.get("group", "")),
        date=str(meta.get("date", "")),
        notes=str(meta.get("notes", "")),
        trial_labels={str(k): dict(v) for k, v in trials.items() if isinstance(v, dict)},
    )


@dataclass(frozen=True)
class Project:
    """A project folder (see the module docstring for the layout)."""

    root: Path
    name: str
    rig_file: str = "rig.toml"
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        return self.root / "project.toml"

    @property
    def rig_path(self) -> Path:
        return self.root / self.rig_file

    @property
    def calibration_dir(self) -> Path:
        return self.root / "calibration"

    @property
    def calibration_footage_dir(self) -> Path:
        return self.calibration_dir / "footage"

    @property
    def calibration_path(self) -> Path:
        return self.calibration_dir / "calibration.toml"

    @property
    def sessions_dir(self) -> Path:
        return self.root / "sessions"

    @property
    def outputs_dir(self) -> Path:
        return self.root / "outputs"

    def rig(self) -> Rig:
        return load_rig(self.rig_path)

    def sessions(self) -> list[Session]:
        if not self.sessions_dir.is_dir():
            return []
        dirs = [p for p in self.sessions_dir.iterdir() if (p / "session.toml").is_file()]
        return [read_session(p) for p in sorted(dirs, key=lambda p: natural_key(p.name))]

    def session(self, name: str) -> Session:
        root = self.sessions_dir / _check_name("session", name)
        if not (root / "session.toml").is_file():
            have = [s.name for s in self.sessions()]
            raise InputError(f"project {self.name!r} has no session {name!r}; it has {have}")
        return read_session(root)

    def new_session(
        self,
        name: str,
        *,
        subject: str = "",
        group: str = "",
        date: str = "",
        notes: str = "",
        trial_labels: dict[str, dict[str, Any]] | None = None,
    ) -> Session:
        """Create a session folder with its manifest; refuses to overwrite one."""
        root = self.sessions_dir / _check_name("session", name)
        if (root / "session.toml").exists():
            raise InputError(
                f"session {name!r} already exists in {self.sessions_dir}; choose another name"
            )
        (root / "raw" / "videos").mkdir(parents=True, exist_ok=True)
        meta = {"subject": subject, "group": group, "date": date, "notes": notes}
        doc: dict[str, Any] = {"session": meta}
        if trial_labels:
            doc["trials"] = trial_labels
        write_text_atomic(root / "session.toml", tomli_w.dumps(doc))
        return read_session(root)

    def camera_footage(self, camera: str) -> Path:
        """Calibration footage of ``camera``: a video file or an image folder."""
        folder = self.calibration_footage_dir
        if (folder / camera).is_dir():
            return folder / camera
        for suffix in VIDEO_SUFFIXES:
            if (folder / f"{camera}{suffix}").is_file():
                return folder / f"{camera}{suffix}"
        raise InputError(
            f"no calibration footage for camera {camera!r} in {folder}; add "
            f"{camera}.mp4 or an image folder {camera}/"
        )


def create_project(
    root: str | Path, rig: str | Path, *, name: str | None = None, exist_ok: bool = False
) -> Project:
    """Make a project folder with a copy of the rig file (and the board spec it names).

    The board spec is copied beside the rig and the copy's board path rewritten, so the
    project is self-contained.
    """
    root = Path(root)
    rig_src = Path(rig)
    rig_obj = load_rig(rig_src)  # validate before creating anything
    if (root / "project.toml").exists():
        if exist_ok:
            return open_project(root)
        raise InputError(f"{root} is already a project; open it or choose another folder")
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("calibration/footage", "sessions", "outputs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    board_src = (rig_src.parent / rig_obj.calibration.board).resolve()
    shutil.copyfile(board_src, root / "board.toml")
    text = rig_src.read_text(encoding="utf-8").replace(rig_obj.calibration.board, "board.toml")
    write_text_atomic(root / "rig.toml", text)
    load_rig(root / "rig.toml")
    doc = {
        "project": {"name": name or root.name, "layout_version": LAYOUT_VERSION, "rig": "rig.toml"}
    }
    write_text_atomic(root / "project.toml", tomli_w.dumps(doc))
    return open_project(root)


def open_project(root: str | Path) -> Project:
    """Open a project folder (one with a ``project.toml``)."""
    root = Path(root)
    if not (root / "project.toml").is_file():
        raise InputError(
            f"{root} is not a mocap3d project (no project.toml); create one with "
            "`mocap3d init PROJECT --rig RIG.toml` (or `mocap3d simulate project`)"
        )
    data = _read_toml(root / "project.toml", "project file")
    meta = data.get("project", {})
    version = meta.get("layout_version", -1)
    if version != LAYOUT_VERSION:
        raise LayoutVersionError(
            f"{root / 'project.toml'} has layout_version {version!r}; this "
            f"mocap3d reads {LAYOUT_VERSION} — upgrade mocap3d"
        )
    return Project(
        root=root,
        name=str(meta.get("name", root.name)),
        rig_file=str(meta.get("rig", "rig.toml")),
        settings=dict(data.get("settings", {})),
    )
