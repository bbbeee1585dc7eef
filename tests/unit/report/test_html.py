"""HTML reports: self-contained pages that load in headless Chromium without errors, with every
image rendered and every local link pointing at a file that exists.

Chromium is Debian's ``chromium`` package (``make test`` installs it); screenshots of the pages
are kept under ``tests/artifacts/``.
"""

from __future__ import annotations

import dataclasses
import html as htmllib
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import pytest

from mocap3d.report.build import ReportOptions, build_project
from mocap3d.report.html import Figure, Links, Page, Section, Table, Text, Video, render_page
from mocap3d.report.overlay import OverlayOptions
from mocap3d.report.pages import ProjectExtras
from mocap3d.simulate.truth import read_truth
from tests.fixtures.outputs_project import shared_project, write_calibration_report
from tests.unit.report.chromium import chromium, find_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_page_escapes_text_and_links_relatively(tmp_path):
    png = tmp_path / "figs" / "a b.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG fake")
    page = Page(
        title="<script>alert(1)</script>",
        sections=[
            Section(
                "s & t",
                [
                    Text("x < y", note=True),
                    Figure(png, "cap", png.with_suffix(".svg")),
                    Table(pd.DataFrame({"v": [1.23456789]}, index=pd.Index(["r1"], name="row"))),
                    Video(tmp_path / "v.mp4", "video"),
                    Video(tmp_path / "v.avi", "old", playable=False),
                    Links([("data", tmp_path / "d.csv", "note")]),
                ],
            )
        ],
    )
    text = render_page(page, base=tmp_path / "sub")
    assert "<script>" not in text and "&lt;script&gt;" in text and "s &amp; t" in text
    assert 'src="../figs/a b.png"' in text and 'href="../figs/a b.svg"' in text
    assert "1.235" in text and '<video controls muted preload="metadata" src="../v.mp4">' in text
    assert "<video" not in text.split("v.avi")[0].rsplit("<p>", 1)[-1]
    embedded = render_page(page, base=tmp_path, embed_images=True)
    assert "data:image/png;base64," in embedded and 'src="figs/a b.png"' not in embedded
    assert "http://" not in text and "https://" not in text  # nothing fetched from the net


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    project = shared_project(tmp_path_factory, videos=True)
    write_calibration_report(project)
    truth = read_truth(project.sessions()[0].root / "truth" / "truth.h5")
    trial = truth.trials["trial_001"]
    err = np.linalg.norm(trial["tracks"] - trial["uv"], axis=-1)
    rng = np.random.default_rng(1)
    extras = ProjectExtras(
        reprojection_errors={c: np.abs(rng.normal(0, 0.3, 300)) for c in truth.cameras.names},
        board_points={v: trial["uv"][i].reshape(-1, 2) for i, v in enumerate(trial.views)},
        tracking_errors={v: err[i] for i, v in enumerate(trial.views)},
    )
    page, results = build_project(project, options=ReportOptions(nwb="both"), extras=extras)
    return {"project": project, "page": page, "results": results}


def local_targets(page: Path) -> list[Path]:
    text = page.read_text(encoding="utf-8")
    out = []
    for ref in re.findall(r'(?:href|src)="([^"]+)"', text):
        ref = htmllib.unescape(ref)
        if not ref.startswith("data:"):
            out.append((page.parent / ref).resolve())
    return out


@pytest.mark.slow
def test_every_output_is_written_and_linked(built):
    project, results = built["project"], built["results"]
    assert built["page"] == project.outputs_dir / "report.html"
    session = results[0]
    assert session.files["nwb"].is_file() and session.files["metrics"].is_file()
    pages = [built["page"], session.report] + [t.report for t in session.trials]
    for t in session.trials:
        assert t.missing == []
        assert {"csv", "nwb"} <= set(t.files)
        assert set(t.figures) == {"timeline", "skeleton", "confidence"}
        assert set(t.videos) == {
            "side_left",
            "side_right",
            "front",
            "overhead",
            "grid",
            "skeleton3d",
        }
    for page in pages:
        targets = local_targets(page)
        assert targets, page
        missing = [p for p in targets if not p.exists()]
        assert not missing, (page, missing)
    project_page = built["page"].read_text(encoding="utf-8")
    assert "Board geometry check" in project_page and "coverage.png" in project_page
    trial_page = session.trials[0].report.read_text(encoding="utf-8")
    assert "simulator&#x27;s ground truth" in trial_page  # the stand-in says what it is
    for name in ("timeline.png", "grid.mp4", "trial_001.csv", "trial_001.nwb", "mouse01.nwb"):
        assert name in trial_page


@pytest.mark.slow
def test_pages_load_in_headless_chromium(built):
    if find_chromium() is None:
        pytest.skip("chromium is not installed: `apt-get install chromium` (make test does)")
    session = built["results"][0]
    pages = {
        "project": built["page"],
        "session": session.report,
        "trial": session.trials[0].report,
    }
    with chromium() as inspect:
        for name, page in pages.items():
            shot = ARTIFACTS / f"report_{name}.png"
            got = inspect(page, screenshot=shot)
            assert got.errors == [], (name, got.errors)
            assert got.images, name
            for img in got.images:
                assert img["complete"] and img["naturalWidth"] > 0 and img["naturalHeight"] > 0
                assert img["width"] > 0 and img["height"] > 0, (name, img)
            for video in got.videos:
                assert video["error"] is None and video["readyState"] >= 1, (name, video)
                assert video["videoWidth"] > 0 and video["duration"] > 0, (name, video)
            for link in got.links:
                url = urlparse(link)
                if url.scheme == "file":
                    assert Path(unquote(url.path)).exists(), (name, link)
            assert shot.is_file() and shot.stat().st_size > 10_000
        assert len(inspect(pages["trial"]).videos) == 6  # grid, 3D view, 4 cameras


@pytest.mark.slow
def test_embedded_images_make_single_file_pages(built, tmp_path):
    project = built["project"]
    options = ReportOptions(
        nwb="none", csv=False, videos=False, embed_images=True,
        overlay=OverlayOptions(codec="mp4v"),
    )  # fmt: skip
    page, _ = build_project(project, trials=["trial_002"], options=options)
    assert page is not None
    trial = project.sessions()[0].outputs_dir / "trials" / "trial_002" / "report.html"
    text = trial.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 3
    assert not re.findall(r'<img src="(?!data:)', text)
    assert dataclasses.asdict(options)["embed_images"] is True
