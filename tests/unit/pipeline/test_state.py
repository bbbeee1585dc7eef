"""Content hashes and the pipeline state: what decides that a step runs again."""

from __future__ import annotations

import os

import pandas as pd

from mocap3d.pipeline.hashing import file_digest, files_digest, task_key
from mocap3d.pipeline.result import Outcome, PipelineResult
from mocap3d.pipeline.state import PipelineState


def test_file_digest_follows_content_not_names(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"frames" * 1000)
    b.write_bytes(b"frames" * 1000)
    assert file_digest(a) == file_digest(b)
    b.write_bytes(b"frames" * 999 + b"framez")
    assert file_digest(a) != file_digest(b)
    assert file_digest(tmp_path / "nope") == "missing"


def test_digest_cache_is_used_only_while_size_and_mtime_match(tmp_path):
    f = tmp_path / "video.mp4"
    f.write_bytes(b"x" * 100)
    cache: dict = {}
    d1 = file_digest(f, cache)
    st = f.stat()
    cache[str(f.resolve())][2] = "stale"  # a cached value is trusted while the stamp matches
    assert file_digest(f, cache) == "stale"
    f.write_bytes(b"y" * 100)  # same size, new content, new mtime
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert file_digest(f, cache) not in ("stale", d1)


def test_files_digest_descends_into_folders(tmp_path):
    (tmp_path / "cam" / "sub").mkdir(parents=True)
    (tmp_path / "cam" / "0001.png").write_bytes(b"1")
    (tmp_path / "cam" / "sub" / "0002.png").write_bytes(b"2")
    d = files_digest([tmp_path / "cam"])
    assert sorted(os.path.basename(k) for k in d) == ["0001.png", "0002.png"]


def test_task_key_changes_with_any_part():
    base = task_key("track", "v1", {"video": "abc"}, 8)
    assert base == task_key("track", "v1", {"video": "abc"}, 8)
    assert base != task_key("track", "v1", {"video": "abd"}, 8)
    assert base != task_key("track", "v1", {"video": "abc"}, 16)


def test_state_round_trip_and_missing_outputs(tmp_path):
    out = tmp_path / "tracks.h5"
    out.write_text("x")
    state = PipelineState.load(tmp_path / "state.json")
    state.record("track/m1/t1/cam", "k1", [out], frames=10)
    again = PipelineState.load(tmp_path / "state.json")
    assert again.is_done("track/m1/t1/cam", "k1")
    assert not again.is_done("track/m1/t1/cam", "k2")  # inputs changed
    out.unlink()
    assert not again.is_done("track/m1/t1/cam", "k1")  # its output is gone


def test_unreadable_state_means_everything_runs_again(tmp_path):
    p = tmp_path / "state.json"
    p.write_text("{not json")
    assert PipelineState.load(p).steps == {}


def test_result_summary_and_failed_trials(tmp_path):
    r = PipelineResult(tmp_path, "serial")
    r.add(Outcome("track", "done", "m1", "t1", "cam", seconds=2.0))
    r.add(Outcome("track", "failed", "m1", "t2", "cam", message="bad video", bad_input=True))
    r.add(Outcome("triangulate", "blocked", "m1", "t2", message="after track"))
    r.add(Outcome("triangulate", "done", "m1", "t1", seconds=1.0))
    table = r.summary()
    assert list(table.index) == ["track", "triangulate"]
    assert table.loc["track", "done"] == 1 and table.loc["track", "failed"] == 1
    assert table.loc["triangulate", "blocked"] == 1
    assert table.loc["track", "seconds"] == 2.0
    assert r.failed_trials() == [("m1", "t2", "track: bad video")]
    assert not r.ok
    assert isinstance(table, pd.DataFrame)
