"""The ``mocap3d`` command line: parses arguments, calls the library, owns the console.

Each verb lives in its own module here and exposes ``register(app)``; modules are discovered
automatically, so adding a verb means adding a file. Exit codes: 0 success, 2 bad input or
usage (one message on stderr, no traceback unless ``-v``), 1 an internal error.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
import traceback
from collections.abc import Sequence

import typer
from rich.markup import escape

from mocap3d._version import __version__
from mocap3d.cli._console import err_console
from mocap3d.errors import InputError

HELP = """Multi-camera 3D motion capture of jumping mice, on one clock with EMG and force.

Workflow: rig check → init → board print → calibrate → record → track → sync → triangulate →
analyze → report; `mocap3d run` does calibrate … report over a project.

`mocap3d demo` runs the main job on built-in synthetic data."""

app = typer.Typer(
    name="mocap3d",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mocap3d {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        help="Log to stderr (-v info, -vv debug); show tracebacks.",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    from rich.logging import RichHandler

    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console())],
        force=True,
    )


def _register_verbs() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(app)


_register_verbs()


def _verbosity(argv: Sequence[str]) -> int:
    n = 0
    for arg in argv:
        if arg == "--verbose":
            n += 1
        elif arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) == {"v"}:
            n += len(arg) - 1
    return n


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``mocap3d`` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = _verbosity(args)
    console = err_console()
    try:
        app(args=args, prog_name="mocap3d", standalone_mode=True)
    except InputError as exc:
        if verbose:
            console.print(traceback.format_exc(), markup=False, highlight=False)
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[bold yellow]interrupted[/]")
        sys.exit(130)
    except Exception as exc:
        if verbose:
            console.print(traceback.format_exc(), markup=False, highlight=False)
        console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
            "This is a bug in mocap3d; run again with -v for the traceback and report it.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
