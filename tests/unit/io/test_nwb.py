"""NWB export (ndx-pose 0.4): valid for pynwb and nwbinspector, and read back to the same numbers.

Content: a simulated session (2 trials) with the simulator's truth as the derived datasets.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.io.nwb import write_nwb
from mocap3d.io.nwb_read import read_nwb
from mocap3d.io.rawdaq import read_stream
from mocap3d.report.build import exposure_durations
from mocap3d.report.content import load_calibration, load_trial, session_info
from mocap3d.simulate.truth import read_truth
from tests.fixtures.outputs_project import shared_project

# What nwbinspector 0.7 reports on our files, all at BEST_PRACTICE_SUGGESTION level: a
# simulated session starts at the Unix epoch (its DAQ file's fixed creation time), no
# experimenter or institution are known, and a trial file's trials table has one row.
EXPECTED_SUGGESTIONS = {
    "check_session_start_time_old_date",
    "check_experimenter_exists",
    "check_institution",
    "check_single_row",
}


@pytest.fixture(scope="module")
def content(tmp_path_factory):
    project = shared_project(tmp_path_factory, videos=False)
    session = project.sessions()[0]
    rig = project.rig()
    trials = [load_trial(project, session, t, rig=rig) for t in session.trials()]
    return {
        "project": project,
        "session": session,
        "rig": rig,
        "info": session_info(project, session, rig),
        "cameras": load_calibration(project),
        "trials": trials,
        "truth": read_truth(session.root / "truth" / "truth.h5"),
    }


@pytest.fixture(scope="module")
def session_nwb(content, tmp_path_factory):
    path = tmp_path_factory.mktemp("nwb") / "session.nwb"
    return write_nwb(
        path,
        content["trials"],
        session=content["info"],
        cameras=content["cameras"],
        exposure_s=exposure_durations(content["rig"]),
    )


def inspect(path):
    from nwbinspector import inspect_nwbfile

    return list(inspect_nwbfile(nwbfile_path=path))


@pytest.mark.parametrize("which", ["trial", "session"])
def test_files_are_valid_nwb(which, content, session_nwb, tmp_path):
    import pynwb

    if which == "trial":
        path = write_nwb(
            tmp_path / "trial.nwb",
            content["trials"][:1],
            session=content["info"],
            cameras=content["cameras"],
            exposure_s=exposure_durations(content["rig"]),
        )
    else:
        path = session_nwb
    assert pynwb.validate(path=str(path)) == []
    messages = inspect(path)
    report = [(m.importance.name, m.check_function_name, m.object_name) for m in messages]
    assert all(m.importance.name == "BEST_PRACTICE_SUGGESTION" for m in messages), report
    assert {m.check_function_name for m in messages} <= EXPECTED_SUGGESTIONS, report


def test_session_file_reads_back_the_same_numbers(content, session_nwb):
    back = read_nwb(session_nwb)
    assert back.cameras is not None and back.cameras.allclose(content["cameras"], rtol=0, atol=0)
    assert back.cameras.names == content["cameras"].names
    info = content["info"]
    assert back.session.start_time == info.start_time
    for field in ("name", "subject", "group", "species", "sex", "age", "keypoints", "bones"):
        assert getattr(back.session, field) == getattr(info, field), field
    assert list(back.trials.index) == [t.name for t in content["trials"]]
    for original in content["trials"]:
        got = back.trial(original.name)
        assert (got.start_s, got.stop_s) == (original.start_s, original.stop_s)
        for var in ("position", "confidence"):
            a, b = original.poses2d[var], got.poses2d[var]
            assert a.dims == b.dims and list(a["view"].values) == list(b["view"].values)
            np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_allclose(got.poses2d["time"], original.poses2d["time"], atol=1e-12)
        for var in ("position", "reprojection_error", "n_views"):
            np.testing.assert_array_equal(got.poses3d[var].values, original.poses3d[var].values)
        np.testing.assert_array_equal(got.angles.values, original.angles.values)
        assert list(got.angles["joint"].values) == list(original.angles["joint"].values)
        np.testing.assert_array_equal(got.envelopes.values, original.envelopes.values)
        for stream, sig in original.signals.items():
            kept = [
                c
                for c, k in zip(sig["channel"].values, sig["kind"].values, strict=True)
                if k != "ttl"
            ]
            a, b = sig.sel(channel=kept), got.signals[stream]
            assert list(b["channel"].values) == kept
            np.testing.assert_array_equal(b.values, a.values.astype(np.float32))
            np.testing.assert_allclose(b["time"].values, a["time"].values, rtol=0, atol=1e-9)
            for coord in ("scale", "offset", "unit", "kind", "muscle"):
                assert list(b[coord].values) == list(a[coord].values), coord
        assert got.events == original.events
        assert got.metrics == pytest.approx(original.metrics, rel=0, abs=0)
        assert got.labels["group"] == original.labels["group"]
        assert got.exposures.keys() == original.exposures.keys()
        for cam, t in original.exposures.items():
            np.testing.assert_allclose(got.exposures[cam], t, rtol=0, atol=1e-12)
        assert {c: p.resolve() for c, p in got.videos.items()} == {
            c: p.resolve() for c, p in original.videos.items()
        }


def test_nwb_positions_are_the_truth(content, session_nwb):
    """The 3D series hold the simulator's keypoints (mm), on its pose times."""
    back = read_nwb(session_nwb)
    for name, trial in content["truth"].trials.items():
        p3 = back.trial(name).poses3d
        expected = np.transpose(trial["keypoints3d"], (0, 2, 1))
        np.testing.assert_array_equal(p3["position"].values[..., 0], expected)
        np.testing.assert_allclose(p3["time"].values, trial["pose_time_s"], atol=1e-12)


def test_daq_channels_convert_to_physical_units_the_nwb_way(content, session_nwb):
    """For any NWB reader, data · conversion + offset is the force in newtons the DAQ measured."""
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(session_nwb), "r") as io:
        ts = io.read().acquisition["force_z"]
        assert ts.unit == "newtons" and ts.conversion == 0.25
        values = np.asarray(ts.data[:]) * ts.conversion + ts.offset
        if ts.timestamps is not None:
            times = np.asarray(ts.timestamps[:])
        else:
            times = ts.starting_time + np.arange(values.size) / ts.rate
    raw = read_stream(content["session"].raw_daq_path, "slow", channels=["force_z"])
    rate = raw.attrs["rate_hz"]
    idx = np.round((times - raw["time"].values[0]) * rate).astype(int)
    np.testing.assert_allclose(raw["time"].values[idx], times, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(values, raw.values[idx, 0])
    n = sum(t.signals["slow"].sizes["time"] for t in content["trials"])
    assert values.size == n


def test_bad_input_is_refused(content, tmp_path):
    kw = {"session": content["info"], "cameras": content["cameras"]}
    trials = content["trials"]
    with pytest.raises(InputError, match=r"end in \.nwb"):
        write_nwb(tmp_path / "x.h5", trials[:1], **kw)
    with pytest.raises(InputError, match="repeat"):
        write_nwb(tmp_path / "x.nwb", [trials[0], trials[0]], **kw)
    with pytest.raises(InputError, match=r"overlap|time order"):
        write_nwb(tmp_path / "x.nwb", [trials[1], trials[0]], **kw)
    with pytest.raises(InputError, match="at least one"):
        write_nwb(tmp_path / "x.nwb", [], **kw)
    with pytest.raises(InputError, match="does not exist"):
        read_nwb(tmp_path / "missing.nwb")
    assert not list(tmp_path.iterdir())


def test_a_failed_write_leaves_the_old_file(content, tmp_path, monkeypatch):
    import pynwb

    path = write_nwb(tmp_path / "t.nwb", content["trials"][:1], session=content["info"])
    before = path.read_bytes()

    def boom(self, *a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pynwb.NWBHDF5IO, "write", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_nwb(path, content["trials"][:1], session=content["info"])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.nwb"]


def test_without_calibration_or_poses(content, tmp_path):
    """Cameras without calibration become plain devices; a trial of signals alone is fine."""
    import pynwb

    trial = dataclasses.replace(content["trials"][0], poses3d=None, angles=None)
    path = write_nwb(tmp_path / "t.nwb", [trial], session=content["info"])
    assert pynwb.validate(path=str(path)) == []
    back = read_nwb(path)
    assert back.cameras is None and back.poses3d is None and back.angles is None
    assert list(back.poses2d["view"].values) == list(trial.poses2d["view"].values)
    assert not [m for m in inspect(path) if m.importance.name == "CRITICAL"]
