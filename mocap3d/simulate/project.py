"""A synthetic project folder: rig, true calibration, sessions of jumping mice in groups.

::

    PROJECT/                       (mocap3d.io.project layout)
      project.toml, rig.toml, board.toml
      calibration/footage/         board footage: written by the board_footage hook
      sessions/<session>/          one simulated mouse each (see mocap3d.simulate.session)
      truth/calibration.toml       the true cameras (Anipose format)
      truth/simulation.json        how the project was simulated (seed, groups, faults …)

Sessions are named ``mouse01``, ``mouse02`` …, their ``group`` label set in ``session.toml``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import tomli_w

from mocap3d.camera import CameraGroup
from mocap3d.errors import InputError
from mocap3d.io.atomic import write_text_atomic
from mocap3d.io.project import Project, create_project
from mocap3d.progress import Progress, report
from mocap3d.resources import builtin_rig_path
from mocap3d.rig import Rig, load_rig
from mocap3d.simulate.faults import Faults
from mocap3d.simulate.jump_params import JumpGroup, group_by_name
from mocap3d.simulate.rig_geometry import LayoutOptions, camera_layout, even_size
from mocap3d.simulate.session import (
    SessionOptions,
    TrialPlan,
    hash_seed,
    plan_session,
    simulate_session,
)

BoardFootageHook = Callable[[Path, Rig, CameraGroup, int], None]
"""Writes calibration footage of every camera into a folder: ``hook(footage_dir, rig, cameras,
seed)``. :func:`mocap3d.simulate.board_footage.footage_hook` makes one; pass it as
``board_footage=`` to :func:`simulate_project`."""


def resolve_rig(rig: str | Path) -> Path:
    """A rig file path, or the name of a built-in rig (``demo``, ``mouse-jump-4cam``)."""
    p = Path(rig)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise InputError(f"rig file {p} does not exist")
        return p
    return builtin_rig_path(str(rig))


def _scaled_rig(rig_path: Path, scale: float, out: Path) -> Path:
    """A copy of the rig with every camera's resolution × ``scale`` (board path made absolute)."""
    data = tomllib.loads(rig_path.read_text(encoding="utf-8"))
    rig = load_rig(rig_path)
    board = (rig_path.parent / rig.calibration.board).resolve()
    data["calibration"]["board"] = str(board)
    for cam in data["cameras"]:
        w, h = cam["resolution"]
        cam["resolution"] = [even_size(w * scale), even_size(h * scale)]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, tomli_w.dumps(data))
    return out


SIMULATED_SUBJECT = {"species": "Mus musculus", "sex": "U", "age": "P12W"}
"""The ``[subject]`` table of a simulated session (NWB/DANDI want species, sex and age)."""


def _describe_subject(manifest: Path) -> None:
    doc = tomllib.loads(manifest.read_text(encoding="utf-8"))
    doc["subject"] = dict(SIMULATED_SUBJECT)
    write_text_atomic(manifest, tomli_w.dumps(doc))


def simulate_project(
    root: str | Path,
    *,
    rig: str | Path = "demo",
    groups: Sequence[str | JumpGroup] = ("control", "perturbed"),
    subjects_per_group: int = 1,
    trials_per_subject: int = 3,
    seed: int = 0,
    scale: float = 1.0,
    options: SessionOptions = SessionOptions(),
    faults: Faults = Faults(),
    layout: LayoutOptions = LayoutOptions(),
    board_footage: BoardFootageHook | None = None,
    progress: Progress | None = None,
) -> Project:
    """Simulate a whole project: ``groups × subjects_per_group`` mice, each one session.

    Parameters
    ----------
    root : path-like
        New project folder (must not be a project yet).
    rig : str or path-like
        Rig file or built-in rig name.
    groups : sequence of group names (``control``, ``perturbed``) or :class:`JumpGroup`
    subjects_per_group, trials_per_subject : int
    seed : int
        Everything (camera layout, mice, noise) follows from it: same seed, same bytes.
    scale : float
        Camera resolution × ``scale`` (the project's rig.toml says the scaled resolution).
    options, faults, layout
        Session options, injected faults, camera layout knobs.
    board_footage : callable, optional
        Hook that renders calibration footage into ``calibration/footage`` (see
        :data:`BoardFootageHook`, e.g. ``footage_hook()``); without it the folder stays empty.

    Raises
    ------
    InputError
        Bad input (rig, group, counts, scale, ``root`` already a project), before anything
        is created. On any failure or interruption later, what this call created is removed
        (a folder that existed before keeps what it held), so the call can simply be repeated.
    """
    root = Path(root)
    if (root / "project.toml").exists():
        raise InputError(f"{root} is already a project; simulate into a new folder")
    rig_path = resolve_rig(rig)
    jump_groups = [g if isinstance(g, JumpGroup) else group_by_name(g) for g in groups]
    if not jump_groups or subjects_per_group < 1 or trials_per_subject < 1:
        raise InputError("simulate at least one group, one subject and one trial")
    if not scale > 0:
        raise InputError(f"scale must be > 0, found {scale}")
    existed = set(root.iterdir()) if root.is_dir() else None
    try:
        return _simulate(
            root, rig_path, jump_groups, subjects_per_group=subjects_per_group,
            trials_per_subject=trials_per_subject, seed=seed, scale=scale, options=options,
            faults=faults, layout=layout, board_footage=board_footage, progress=progress,
        )  # fmt: skip
    except BaseException:  # nothing half-made: remove what this call created
        if existed is None:
            shutil.rmtree(root, ignore_errors=True)
        elif root.is_dir():
            for path in set(root.iterdir()) - existed:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        raise


def _simulate(
    root: Path,
    rig_path: Path,
    jump_groups: list[JumpGroup],
    *,
    subjects_per_group: int,
    trials_per_subject: int,
    seed: int,
    scale: float,
    options: SessionOptions,
    faults: Faults,
    layout: LayoutOptions,
    board_footage: BoardFootageHook | None,
    progress: Progress | None,
) -> Project:
    """:func:`simulate_project` once its inputs are checked."""
    with tempfile.TemporaryDirectory() as tmp:
        if scale != 1.0:
            rig_path = _scaled_rig(rig_path, scale, Path(tmp) / "rig.toml")
        project = create_project(root, rig_path, name=root.name)
    rig_obj = project.rig()
    cameras = camera_layout(rig_obj, options=layout, seed=seed)
    cameras = CameraGroup(cameras.cameras, {"source": "mocap3d.simulate", "seed": seed})
    truth_dir = root / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    cameras.save(truth_dir / "calibration.toml")
    record: dict[str, Any] = {
        "seed": seed,
        "rig": rig_obj.name,
        "scale": scale,
        "groups": [asdict(g) for g in jump_groups],
        "subjects_per_group": subjects_per_group,
        "trials_per_subject": trials_per_subject,
        "duration_s": options.duration_s,
        "faults": faults.as_dict(),
        "sessions": {},
    }
    # ---- calibration footage: e.g. mocap3d.simulate.board_footage.footage_hook
    if board_footage is not None:
        report(progress, 0, 1, "calibration footage")
        board_footage(project.calibration_footage_dir, rig_obj, cameras, hash_seed(seed, 77))
        report(progress, 1, 1, "calibration footage")
    n_sessions = len(jump_groups) * subjects_per_group
    index = 0
    for group in jump_groups:
        for _ in range(subjects_per_group):
            index += 1
            name = f"mouse{index:02d}"
            trials = [
                TrialPlan(f"trial_{t + 1:03d}", group, hash_seed(seed, index, t))
                for t in range(trials_per_subject)
            ]
            session = project.new_session(
                name,
                subject=name,
                group=group.name,
                notes="simulated by mocap3d.simulate",
                trial_labels={t.name: {"group": group.name} for t in trials},
            )
            _describe_subject(session.manifest_path)
            report(progress, index - 1, n_sessions, "sessions")
            plan = plan_session(
                rig_obj,
                cameras,
                trials,
                name=name,
                subject=name,
                seed=hash_seed(seed, index),
                options=options,
                faults=faults,
            )
            simulate_session(session.root, plan, options=options, faults=faults, progress=progress)
            record["sessions"][name] = {"group": group.name, "trials": [t.name for t in trials]}
            report(progress, index, n_sessions, "sessions")
    write_text_atomic(truth_dir / "simulation.json", json.dumps(record, indent=1, sort_keys=True))
    return project
