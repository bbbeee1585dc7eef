"""The command line as users run it: verbs, exit codes, messages, tracebacks only with -v."""

from __future__ import annotations

import copy
import subprocess
import sys
import tomllib

import tomli_w


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mocap3d", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_help_lists_the_workflow_verbs():
    out = run("--help")
    assert out.returncode == 0
    for verb in ("rig", "demo"):
        assert verb in out.stdout


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("mocap3d ")


def test_rig_check_ok(seed_rig_path):
    out = run("rig", "check", str(seed_rig_path))
    assert out.returncode == 0, out.stderr
    assert "mouse-jump-4cam" in out.stdout and "platform_z [mm]" in out.stdout


def test_rig_check_with_five_faults_exits_2_and_names_all(seed_rig_path, tmp_path):
    data = tomllib.loads(seed_rig_path.read_text())
    bad = copy.deepcopy(data)
    bad["cameras"][1]["name"] = "side_left"
    bad["angles"]["knee"]["points"][1] = "knees"
    bad["daq"]["channels"][1]["terminal"] = "ai0"
    bad["daq"]["streams"]["fast"]["rate_hz"] = "fast"
    bad["calibration"]["board"] = "missing.toml"
    path = tmp_path / "broken.toml"
    path.write_text(tomli_w.dumps(bad))
    out = run("rig", "check", str(path))
    assert out.returncode == 2
    assert "5 problem(s)" in out.stderr
    for needle in (
        "cameras[1].name",
        "angles.knee.points",
        "daq.channels[1](emg_ta).terminal",
        "daq.streams.fast.rate_hz",
        "calibration.board",
    ):
        assert needle in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_input_has_no_traceback_unless_verbose(tmp_path):
    out = run("rig", "check", str(tmp_path / "nope.toml"))
    assert out.returncode == 2
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr
    verbose = run("-v", "rig", "check", str(tmp_path / "nope.toml"))
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr


def test_usage_errors_exit_2():
    assert run("rig", "check").returncode == 2
    assert run("no-such-verb").returncode == 2


def test_demo_refuses_bad_options_before_doing_anything(tmp_path):
    # the demo itself (minutes: simulation, training, pipeline) is tests/integration/test_demo.py
    out = run("demo", "--workdir", str(tmp_path / "d"), "--trials", "1")
    assert out.returncode == 2 and "--trials" in out.stderr
    assert not (tmp_path / "d").exists()
    assert run("demo", "--help").returncode == 0


def _main(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (faster than a subprocess): exit code, stdout, stderr."""
    import pytest

    from mocap3d.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out = capsys.readouterr()
    return int(exit_.value.code or 0), out.out, out.err


def test_init_makes_an_empty_project_and_says_what_next(demo_rig_path, tmp_path, capsys):
    from mocap3d.io.project import open_project

    root = tmp_path / "jumps"
    code, out, err = _main(capsys, "init", str(root), "--rig", str(demo_rig_path))
    assert code == 0, err
    project = open_project(root)
    assert project.name == "jumps" and project.sessions() == []
    assert project.rig().camera_names == ["side_left", "side_right", "front", "overhead"]
    for sub in ("calibration/footage", "sessions", "outputs"):
        assert (root / sub).is_dir(), sub
    assert (root / "board.toml").is_file()
    said = " ".join(out.split())
    assert f"{root}/calibration/footage/" in said and f"mocap3d calibrate --project {root}" in said
    # a second init refuses, and changes nothing
    before = (root / "project.toml").read_bytes()
    code, _, err = _main(capsys, "init", str(root), "--rig", "demo", "--name", "other")
    assert code == 2 and "already a mocap3d project" in err and "Traceback" not in err
    assert (root / "project.toml").read_bytes() == before


def test_init_with_a_builtin_rig_a_name_and_bad_input(tmp_path, capsys):
    from mocap3d.io.project import open_project

    code, _, err = _main(capsys, "init", str(tmp_path / "a"), "--rig", "demo", "--name", "pilot")
    assert code == 0, err
    assert open_project(tmp_path / "a").name == "pilot"
    code, _, err = _main(capsys, "init", str(tmp_path / "b"), "--rig", "no-such-rig")
    assert code == 2 and "no built-in rig 'no-such-rig'" in err
    code, _, err = _main(capsys, "init", str(tmp_path / "c"), "--rig", str(tmp_path / "x.toml"))
    assert code == 2 and "does not exist" in err
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
    code, _, err = _main(capsys, "init", str(tmp_path / "c"))
    assert code == 2 and "--rig" in err  # required


def _commands():
    """Every (path, click command) of the CLI, sub-commands included."""
    import typer

    from mocap3d.cli import app

    todo = [(["mocap3d"], typer.main.get_command(app))]
    while todo:
        path, cmd = todo.pop()
        yield " ".join(path), cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            todo.append(([*path, name], sub))


def test_every_option_has_a_help_text():
    missing = [
        f"{path} {'/'.join(p.opts)}"
        for path, cmd in _commands()
        for p in cmd.params
        if not getattr(p, "help", None)
    ]
    assert missing == []


def test_help_texts_survive_rich_markup():
    """``[points.<name>]`` is a rich tag and vanishes from --help unless escaped (``\\[``)."""
    import re

    from rich.text import Text

    tag = re.compile(r"\[/?(bold|yellow|red|green|dim|italic)?\]|\[(bold|yellow|red|green)\]")
    lost = []
    for path, cmd in _commands():
        for text in [cmd.help or "", *(getattr(p, "help", None) or "" for p in cmd.params)]:
            shown = Text.from_markup(text).plain
            meant = tag.sub("", text).replace("\\[", "[")
            if shown != meant:
                lost.append(f"{path}: {text!r} shows as {shown!r}")
    assert lost == []
