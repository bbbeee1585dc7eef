"""Consoles and progress bars of the command line (the library never prints)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cache

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mocap3d.progress import Progress as ProgressCallback


@cache
def out_console() -> Console:
    return Console()


@cache
def err_console() -> Console:
    return Console(stderr=True)


@contextlib.contextmanager
def progress_bar() -> Iterator[ProgressCallback]:
    """A progress callback that draws one bar per description on stderr."""
    bars = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console(),
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def update(done: int, total: int, description: str) -> None:
        if description not in tasks:
            tasks[description] = bars.add_task(description, total=total or None)
        bars.update(tasks[description], completed=done, total=total or None)

    with bars:
        yield update
