"""Figures: every plot is written as a non-empty PNG and a well-formed SVG; the numbers behind
them (PCK, phases, key frames) are right."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from mocap3d.errors import InputError
from mocap3d.report.build import force_signal
from mocap3d.report.content import load_calibration, load_trial
from mocap3d.report.figures import (
    key_times,
    pck_curve,
    phases,
    plot_camera_layout,
    plot_confidence,
    plot_coverage,
    plot_group_metrics,
    plot_reprojection_errors,
    plot_skeleton_frames,
    plot_tracking_evaluation,
    plot_trial_timeline,
    save_figure,
)
from mocap3d.simulate.truth import read_truth
from tests.fixtures.outputs_project import shared_project


@pytest.fixture(scope="module")
def content(tmp_path_factory):
    project = shared_project(tmp_path_factory, videos=False)
    session = project.sessions()[0]
    rig = project.rig()
    return {
        "rig": rig,
        "trial": load_trial(project, session, "trial_001", rig=rig),
        "cameras": load_calibration(project),
        "truth": read_truth(session.root / "truth" / "truth.h5").trials["trial_001"],
    }


def check_written(paths, *, min_px=(200, 150)):
    import cv2

    assert [p.suffix for p in paths] == [".png", ".svg"]
    png, svg = paths
    img = cv2.imread(str(png))
    assert img is not None and img.shape[1] >= min_px[0] and img.shape[0] >= min_px[1]
    assert img.std() > 5, "blank image"
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 10
    assert not list(png.parent.glob(".*.tmp"))


def test_calibration_figures(content, tmp_path, rng):
    cams = content["cameras"]
    trial = content["trial"]
    points = trial.poses3d["position"].transpose("time", "keypoint", "space", "individual")
    fig = plot_camera_layout(cams, points=points.values[..., 0])
    check_written(save_figure(fig, tmp_path / "layout"))
    errors = {c: np.abs(rng.normal(0, 0.3, 400)) for c in cams.names}
    check_written(save_figure(plot_reprojection_errors(errors), tmp_path / "errors"))
    truth = content["truth"]
    seen = {v: truth["uv"][i][truth["visible"][i].astype(bool)] for i, v in enumerate(truth.views)}
    check_written(save_figure(plot_coverage(seen, cams), tmp_path / "coverage"))
    with pytest.raises(InputError, match="finite"):
        plot_reprojection_errors({"a": np.array([np.nan])})


def test_tracking_figures(content, tmp_path):
    trial, truth = content["trial"], content["truth"]
    fig = plot_confidence(trial.poses2d, events=trial.events, threshold=0.5)
    check_written(save_figure(fig, tmp_path / "confidence"))
    err = np.linalg.norm(truth["tracks"] - truth["uv"], axis=-1)
    err[~truth["visible"].astype(bool)] = np.nan
    fig = plot_tracking_evaluation(
        {v: err[i] for i, v in enumerate(truth.views)},
        keypoint_errors={k: err[:, :, i] for i, k in enumerate(truth.keypoints)},
    )
    check_written(save_figure(fig, tmp_path / "evaluation"))


def test_pck_curve_counts_misses_as_failures():
    errors = np.array([0.5, 1.0, 2.0, 4.0, np.nan])
    np.testing.assert_allclose(
        pck_curve(errors, np.array([0.0, 1.0, 3.0, 10.0])), [0, 0.4, 0.6, 0.8]
    )


def test_skeleton_and_timeline(content, tmp_path):
    trial, rig = content["trial"], content["rig"]
    times = key_times(trial.events)
    assert list(times) == ["onset", "pushoff_start", "takeoff", "apex", "landing", "landing_end"]
    assert times["apex"] == pytest.approx((trial.events["takeoff"] + trial.events["landing"]) / 2)
    fig = plot_skeleton_frames(trial.poses3d, rig.skeleton.bones, times)
    check_written(save_figure(fig, tmp_path / "skeleton"))
    force = force_signal(trial)
    assert force is not None and str(force["unit"].values[0]) == "N"
    fig = plot_trial_timeline(
        angles=trial.angles, envelopes=trial.envelopes, force=force, events=trial.events
    )
    check_written(save_figure(fig, tmp_path / "timeline"), min_px=(600, 600))
    with pytest.raises(InputError, match="needs angles"):
        plot_trial_timeline()


def test_phases_follow_the_events():
    ev = {"onset": 0.1, "pushoff_start": 0.2, "takeoff": 0.25, "landing": 0.45}
    assert phases(ev) == [("crouch", 0.1, 0.2), ("push-off", 0.2, 0.25), ("flight", 0.25, 0.45)]
    assert phases({"takeoff": 0.3, "landing": 0.2}) == []


def test_group_metrics(tmp_path, rng):
    table = pd.DataFrame(
        {
            "group": ["control"] * 6 + ["perturbed"] * 6,
            "session": [f"m{i // 3}" for i in range(12)],
            "jump_height_mm": rng.normal(38, 3, 12),
            "flight_time_s": rng.normal(0.18, 0.01, 12),
            "note": ["x"] * 12,
        }
    )
    check_written(save_figure(plot_group_metrics(table), tmp_path / "groups"))
    with pytest.raises(InputError, match="no 'cohort' column"):
        plot_group_metrics(table, group="cohort")
    with pytest.raises(InputError, match="not in the table"):
        plot_group_metrics(table, metrics=["speed"])


def test_save_figure_formats(tmp_path):
    from mocap3d.report.figures.common import new_figure

    fig = new_figure(2, 2)
    fig.add_subplot().plot([0, 1], [0, 1])
    paths = save_figure(fig, tmp_path / "sub" / "f", formats=("pdf",))
    assert paths[0].read_bytes().startswith(b"%PDF")
    with pytest.raises(InputError, match="formats"):
        save_figure(fig, tmp_path / "f", formats=("gif",))  # type: ignore[arg-type]
