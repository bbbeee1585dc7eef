"""Usage checks the verbs share: an option that does nothing in the mode chosen is an error."""

from __future__ import annotations

from mocap3d.errors import InputError


def refuse_unused(mode: str, given: dict[str, bool]) -> None:
    """Raise :class:`InputError` naming the options in ``given`` that are set (True) but do
    nothing with ``mode`` (e.g. ``"--project"``), instead of silently ignoring them."""
    unused = [name for name, on in given.items() if on]
    if unused:
        it = "it" if len(unused) == 1 else "them"
        raise InputError(f"{', '.join(unused)}: nothing to do with {mode}; drop {it}")
