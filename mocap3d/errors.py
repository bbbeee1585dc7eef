"""Exceptions with messages a user can act on.

`InputError` and its subclasses mean *the user's input is wrong*: the CLI prints the message
alone and exits with code 2. Anything else escaping the library is a bug (exit code 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class Mocap3dError(Exception):
    """Base class of every error mocap3d raises on purpose."""


class InputError(Mocap3dError, ValueError):
    """Bad input: a file, field, camera or option is not what it must be.

    The message names what is wrong, what was expected, what was found and the likely fix.
    """


class LayoutVersionError(InputError):
    """A file was written with a layout this version of mocap3d does not know."""


@dataclass(frozen=True)
class Problem:
    """One problem found while checking a file.

    Attributes
    ----------
    where : str
        Path of the offending field, e.g. ``cameras[2].fps`` or ``angles.knee.points``.
    what : str
        What is wrong, with the value that was found.
    fix : str
        What to do about it.
    """

    where: str
    what: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.what}"
        return f"{text} — fix: {self.fix}" if self.fix else text


class ProblemsError(InputError):
    """Several problems found at once, each with its field path and fix."""

    def __init__(self, source: str, problems: Sequence[Problem]):
        self.source = source
        self.problems = tuple(problems)
        lines = [f"{source}: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))
