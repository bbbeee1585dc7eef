"""Built-in rigs and board specs, found in a source checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

from mocap3d.errors import InputError

_PACKAGED = Path(__file__).parent / "_resources"  # wheels: force-included by hatch
_CHECKOUT = Path(__file__).parent.parent  # editable installs and source checkouts


def _root() -> Path:
    return _PACKAGED if (_PACKAGED / "rigs").is_dir() else _CHECKOUT


def builtin_rig_path(name: str) -> Path:
    """Path of a built-in rig, e.g. ``builtin_rig_path("demo")`` → ``rigs/demo.toml``."""
    path = _root() / "rigs" / f"{name}.toml"
    if not path.is_file():
        have = sorted(p.stem for p in (_root() / "rigs").glob("*.toml"))
        raise InputError(f"no built-in rig {name!r}; built-in rigs are {have}")
    return path


def builtin_board_path(name: str) -> Path:
    """Path of a built-in board spec, e.g. ``charuco-7x5-10mm``."""
    path = _root() / "calibration" / "boards" / f"{name}.toml"
    if not path.is_file():
        have = sorted(p.stem for p in (_root() / "calibration" / "boards").glob("*.toml"))
        raise InputError(f"no built-in board {name!r}; built-in boards are {have}")
    return path
