"""Rig schema: the built-in rigs are valid; every fault is found and reported at once."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest
import tomli_w

from mocap3d.errors import InputError, ProblemsError
from mocap3d.rig import load_rig, rig_from_dict


@pytest.fixture
def seed(seed_rig_path) -> dict:
    return tomllib.loads(seed_rig_path.read_text())


def check(data: dict, base: Path) -> list[str]:
    try:
        rig_from_dict(data, base_dir=base)
    except ProblemsError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_seed_rig_is_complete(seed_rig_path):
    rig = load_rig(seed_rig_path)
    assert rig.name == "mouse-jump-4cam"
    assert len(rig.cameras) == 4 and rig.fps == 500
    assert rig.keypoints == [
        "nose",
        "eye",
        "forepaw",
        "iliac_crest",
        "hip",
        "knee",
        "ankle",
        "mtp",
        "toe",
        "tail_base",
    ]
    assert set(rig.angles) == {"hip", "knee", "ankle", "mtp"}
    assert rig.angles["hip"].points == ["iliac_crest", "hip", "knee"]
    kinds = sorted(c.kind for c in rig.daq.channels)
    assert kinds.count("emg") == 4 and {"force", "displacement", "ttl"} <= set(kinds)
    assert rig.daq.camera_trigger.counter == "ctr0"
    assert rig.syncbox is not None and rig.syncbox.ttl_channel == "sync_ttl"
    assert rig.board.squares_x == 7 and rig.board.square_length_mm == 10.0
    assert rig.channel("force_z").unit == "N"
    assert {c.lens for c in rig.cameras} == {"pinhole", "fisheye"}


def test_demo_rig_is_valid(demo_rig_path):
    rig = load_rig(demo_rig_path)
    assert rig.daq.backend == "sim" and rig.cameras[0].resolution == (320, 256)


def test_five_faults_are_all_named(seed, seed_rig_path):
    bad = copy.deepcopy(seed)
    bad["cameras"][1]["name"] = "side_left"  # duplicate camera name
    bad["angles"]["knee"]["points"][1] = "knees"  # angle on a missing keypoint
    bad["daq"]["channels"][1]["terminal"] = "ai0"  # one terminal used twice
    bad["daq"]["streams"]["fast"]["rate_hz"] = "fast"  # non-numeric rate
    bad["calibration"]["board"] = "../calibration/boards/missing.toml"  # missing board
    problems = check(bad, seed_rig_path.parent)
    text = "\n".join(problems)
    assert len(problems) == 5, text
    assert "cameras[1].name: 'side_left' is already the name of cameras[0]" in text
    assert "angles.knee.points: unknown keypoint 'knees'" in text
    assert "terminal Dev1/ai0 is already used by channel 'emg_ga'" in text
    assert "daq.streams.fast.rate_hz" in text and "valid number" in text
    assert "calibration.board" in text and "missing.toml does not exist" in text
    assert all(" — fix: " in p for p in problems)


@pytest.mark.parametrize(
    "mutate,expected",
    [
        (lambda d: d["cameras"][0].update(fps=-1), "cameras[0](side_left).fps"),
        (lambda d: d["cameras"][2].update(exposure_channel="nope"), "unknown DAQ channel 'nope'"),
        (lambda d: d["daq"].update(master_stream="medium"), "unknown stream 'medium'"),
        (lambda d: d["daq"]["channels"][0].update(stream="x"), "unknown stream 'x'"),
        (lambda d: d["daq"]["channels"][0].update(name="force_z"), "is already the name of"),
        (lambda d: d["daq"]["camera_trigger"].update(cameras=["top"]), "unknown camera 'top'"),
        (lambda d: d["calibration"].update(reference_camera="top"), "unknown camera 'top'"),
        (lambda d: d["skeleton"]["bones"].append(["hip", "tail"]), "unknown keypoint 'tail'"),
        (lambda d: d["skeleton"]["keypoints"].append("hip"), "'hip' is listed 2 times"),
        (lambda d: d["angles"]["knee"].update(points=["hip", "knee"]), "needs 3 keypoints"),
        (
            lambda d: d["angles"].update(
                tilt={"type": "signed", "points": ["hip", "knee", "ankle"]}
            ),
            "needs a body axis",
        ),
        (lambda d: d["daq"]["streams"]["fast"].update(rate_hz=1000), "too slow for 500"),
        (lambda d: d["cameras"][0].update(exposure_channel="emg_ga"), "not 'ttl'"),
        (lambda d: d["daq"]["channels"][0].update(range_v=[5.0, -5.0]), "min must be below max"),
        (lambda d: d["cameras"][0].update(lens="tele"), "cameras[0](side_left).lens"),
        (lambda d: d["cameras"][0].update(colour="red"), "is not a known field"),
        (lambda d: d.pop("skeleton"), "skeleton: is required but missing"),
        (lambda d: d["syncbox"].update(ttl_channel="ttl9"), "syncbox.ttl_channel"),
    ],
)
def test_each_fault_is_reported(seed, seed_rig_path, mutate, expected):
    bad = copy.deepcopy(seed)
    mutate(bad)
    problems = check(bad, seed_rig_path.parent)
    assert any(expected in p for p in problems), problems


def test_rig_file_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_rig(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[rig\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_rig(tmp_path / "bad.toml")


def test_rig_lookups_name_the_alternatives(seed_rig_path):
    rig = load_rig(seed_rig_path)
    with pytest.raises(InputError, match="its cameras are"):
        rig.camera("top")
    with pytest.raises(InputError, match="its channels"):
        rig.channel("emg_xx")
    assert [c.name for c in rig.channels_of("slow")] == ["force_z", "platform_z"]


def test_board_spec_problems_are_reported_through_the_rig(seed, seed_rig_path, tmp_path):
    board = tmp_path / "board.toml"
    board.write_text(
        tomli_w.dumps(
            {
                "board": {
                    "squares_x": 7,
                    "squares_y": 5,
                    "square_length_mm": 10,
                    "marker_length_mm": 12,
                    "dictionary": "DICT_9X9_5",
                }
            }
        )
    )
    bad = copy.deepcopy(seed)
    bad["calibration"]["board"] = str(board)
    problems = check(bad, Path("/"))
    text = "\n".join(problems)
    assert "marker_length_mm (12.0) must be smaller" in text or "DICT_9X9_5" in text


def test_platform_moving_mass_is_optional_and_checked(seed, seed_rig_path):
    base = seed_rig_path.parent
    assert load_rig(seed_rig_path).arena.platform_moving_mass_g is None
    data = copy.deepcopy(seed)
    data["arena"]["platform_moving_mass_g"] = 12.5
    assert rig_from_dict(data, base_dir=base).arena.platform_moving_mass_g == 12.5
    data["arena"]["platform_moving_mass_g"] = -1.0
    problems = check(data, base)
    assert len(problems) == 1 and "arena.platform_moving_mass_g" in problems[0]
