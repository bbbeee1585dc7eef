"""``mocap3d calibrate``: board footage → Anipose ``calibration.toml`` + quality report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from mocap3d.cli._console import out_console, progress_bar
from mocap3d.cli._usage import refuse_unused
from mocap3d.errors import InputError

WORLDS = ("camera", "board_on_platform", "reference_points")


def _pairs(values: list[str], option: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise InputError(f"{option} takes NAME=PATH, found {value!r}")
        if name in out:
            raise InputError(f"{option}: camera {name!r} is given twice")
        out[name] = Path(path)
    return out


def _footage_in(folder: Path, names: list[str]) -> dict[str, Path]:
    from mocap3d.io.project import VIDEO_SUFFIXES

    out = {}
    for name in names:
        if (folder / name).is_dir():
            out[name] = folder / name
            continue
        hits = [folder / f"{name}{s}" for s in VIDEO_SUFFIXES if (folder / f"{name}{s}").is_file()]
        if not hits:
            raise InputError(
                f"no footage for camera {name!r} in {folder}: expected {name}.mp4 (or .avi, "
                f".mov, .mkv) or an image folder {name}/"
            )
        out[name] = hits[0]
    return out


def calibrate(
    project: Path | None = typer.Option(
        None, "--project", "-p", help="Project folder: rig + calibration/footage/."
    ),
    rig: Path | None = typer.Option(None, "--rig", help="Rig TOML: cameras, lenses, board."),
    footage: Path | None = typer.Option(
        None, "--footage", help="With --rig: folder holding <camera>.mp4 or <camera>/ images."
    ),
    board: Path | None = typer.Option(None, "--board", "-b", help="Board spec TOML."),
    camera: list[str] = typer.Option(
        [], "--camera", "-c", help="NAME=VIDEO_OR_IMAGE_DIR, once per camera (rig order)."
    ),
    fisheye: list[str] = typer.Option([], "--fisheye", help="Camera NAME with a fisheye lens."),
    frame_keys: list[str] = typer.Option(
        [], "--frame-keys", help="NAME=FRAMES.csv: frame log whose counter pairs frames."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="calibration.toml to write."),
    report_dir: Path | None = typer.Option(
        None, "--report", help="Folder of the quality report (default: <out>-report/)."
    ),
    stride: int = typer.Option(1, "--stride", min=1, help="Use every N-th frame."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, help="Detection threads."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Detect again, ignore the cache."),
    world: str | None = typer.Option(
        None, "--world", help="camera | board_on_platform | reference_points (rig default)."
    ),
    platform_frame: int = typer.Option(
        0, "--platform-frame", help="Frame showing the board lying on the platform."
    ),
    board_thickness: float = typer.Option(0.0, "--board-thickness", help="Board thickness, mm."),
    reference_points: Path | None = typer.Option(
        None, "--reference-points", help="TOML of \\[points.<name>] world_mm + pixels."
    ),
    reference_camera: str | None = typer.Option(
        None, "--reference-camera", help="Camera whose frame starts the pose chain."
    ),
    fixed_intrinsics: bool = typer.Option(
        False, "--fixed-intrinsics", help="Do not refine intrinsics in the bundle adjustment."
    ),
) -> None:
    """Calibrate cameras from ChArUco footage; write Anipose calibration.toml + a report.

    Three ways to say what to calibrate: [bold]--project DIR[/]; [bold]--rig RIG --footage
    DIR[/]; or [bold]--board SPEC --camera NAME=PATH ...[/] (PATH a video or an image folder).
    """
    from mocap3d.calibration.board import load_board_spec
    from mocap3d.calibration.bundle import BundleOptions
    from mocap3d.calibration.calibrate import CalibrationOptions, WorldFrame, calibrate_footage
    from mocap3d.calibration.world import load_reference_points
    from mocap3d.io.frames import read_frame_log

    modes = [m for m, on in (("--project", project), ("--rig", rig), ("--board", board)) if on]
    if len(modes) != 1:
        raise InputError(
            "say what to calibrate with exactly one of --project DIR, --rig RIG --footage DIR, "
            f"or --board SPEC --camera NAME=PATH ...; given: {modes or 'none'}"
        )
    explicit = _pairs(camera, "--camera")
    lenses: dict[str, Any] = {}
    ref_cam = reference_camera
    kind = world
    if project is not None:
        refuse_unused(
            "--project (the project's calibration/footage is used; other footage: --rig --footage)",
            {"--footage": footage is not None, "--camera": bool(explicit)},
        )
        from mocap3d.io.project import open_project

        proj = open_project(project)
        the_rig = proj.rig()
        spec = the_rig.board
        cams = {n: proj.camera_footage(n) for n in the_rig.camera_names}
        lenses = {c.name: c.lens for c in the_rig.cameras}
        ref_cam = ref_cam or the_rig.calibration.reference_camera
        kind = kind or the_rig.calibration.world_frame
        out = out or proj.calibration_path
        cache = None if no_cache else proj.calibration_dir / ".cache"
        if kind == "reference_points" and reference_points is None:
            reference_points = proj.calibration_dir / "reference_points.toml"
    elif rig is not None:
        from mocap3d.rig import load_rig

        the_rig = load_rig(rig)
        spec = the_rig.board
        if footage is None and not explicit:
            raise InputError("--rig needs --footage DIR (or --camera NAME=PATH for each camera)")
        cams = _footage_in(footage, the_rig.camera_names) if footage else {}
        cams.update(explicit)
        unknown = [n for n in cams if n not in the_rig.camera_names]
        if unknown:
            raise InputError(f"--camera {unknown}: not cameras of rig {the_rig.name!r}")
        cams = {n: cams[n] for n in the_rig.camera_names if n in cams}
        lenses = {c.name: c.lens for c in the_rig.cameras}
        ref_cam = ref_cam or the_rig.calibration.reference_camera
        kind = kind or the_rig.calibration.world_frame
    else:
        spec = load_board_spec(board)  # type: ignore[arg-type]
        if not explicit:
            raise InputError("--board needs --camera NAME=PATH for every camera to calibrate")
        cams = explicit
        lenses = {n: ("fisheye" if n in fisheye else "pinhole") for n in cams}
        kind = kind or "camera"
    bad_fisheye = [n for n in fisheye if n not in cams]
    if bad_fisheye:
        raise InputError(f"--fisheye {bad_fisheye}: not among the cameras {list(cams)}")
    lenses.update({n: "fisheye" for n in fisheye})
    if out is None:
        raise InputError("give --out calibration.toml (where to write the calibration)")
    if kind not in WORLDS:
        raise InputError(f"--world must be one of {', '.join(WORLDS)}, found {kind!r}")
    if project is None:
        cache = None if no_cache else out.parent / ".mocap3d-cache"
    frame = WorldFrame(
        kind=kind,  # type: ignore[arg-type]
        platform_frame=platform_frame,
        board_thickness_mm=board_thickness,
    )
    if kind == "reference_points":
        if reference_points is None:
            raise InputError("--world reference_points needs --reference-points FILE.toml")
        pixels, world_mm = load_reference_points(reference_points)
        frame = WorldFrame(kind="reference_points", pixels=pixels, world_mm=world_mm)
    keys = {n: read_frame_log(p).counter for n, p in _pairs(frame_keys, "--frame-keys").items()}
    options = CalibrationOptions(
        stride=stride, bundle=BundleOptions(refine_intrinsics=not fixed_intrinsics)
    )
    with progress_bar() as progress:
        result = calibrate_footage(
            cams,
            spec,
            lenses=lenses,
            frame_keys=keys or None,
            reference_camera=ref_cam,
            world=frame,
            options=options,
            cache_dir=cache,
            workers=jobs,
            progress=progress,
        )
    written = result.save(out, report_dir=report_dir)
    _print_result(result, written)


def _print_result(result: Any, written: list[Path]) -> None:
    console = out_console()
    table = Table(title="calibration")
    for col in ("camera", "views", "lens model", "rms px", "median px", "coverage"):
        table.add_column(col, justify="left" if col in ("camera", "lens model") else "right")
    for name, info in result.quality.cameras.items():
        table.add_row(
            name,
            str(info.get("n_views", "")),
            f"{result.cameras[name].model}: {info.get('intrinsics', '')}",
            f"{info.get('rms_px', float('nan')):.3f}",
            f"{info.get('median_px', float('nan')):.3f}",
            f"{info.get('coverage', 0):.0%}",
        )
    console.print(table)
    g = result.quality.geometry
    if g.get("n_pairs"):
        console.print(
            f"board geometry: adjacent corners {g['median_mm']:.3f} mm (median; IQR "
            f"{g['q25_mm']:.3f}–{g['q75_mm']:.3f}) vs {g['square_length_mm']:g} mm "
            f"({g['median_error_percent']:+.2f} %), {g['n_pairs']} pairs",
            markup=False,
        )
    chain = ", ".join(f"{c} ← {p}" for c, p in result.bundle.tree.items())
    console.print(
        f"reference camera {result.bundle.reference_camera}; pose chain: {chain}", markup=False
    )
    for warning in result.quality.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    for path in written:
        console.print(f"wrote {path}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
