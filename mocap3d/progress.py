"""Progress reporting without owning the console.

Long-running library functions take ``progress: Progress | None``; the CLI passes one that
draws a bar (rich), tests pass nothing. The library never prints.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Called as work advances: ``progress(done, total, description)``.

    ``total`` may be 0 when unknown; ``description`` names the current task
    (e.g. ``"detect side_left"``).
    """

    def __call__(self, done: int, total: int, description: str) -> None: ...


def report(progress: Progress | None, done: int, total: int, description: str) -> None:
    """Call ``progress`` if given."""
    if progress is not None:
        progress(done, total, description)
