"""The built-in demo: the main job on synthetic data, with recovered values next to the truth.

Each stage that exists runs for real; a stage not built yet is listed as such — the demo
never prints a value it did not compute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mocap3d.io.project import Project, create_project, open_project
from mocap3d.progress import Progress, report
from mocap3d.resources import builtin_rig_path


@dataclass(frozen=True)
class Measurement:
    """A value the demo recovered, beside the simulator's truth."""

    quantity: str
    recovered: float
    truth: float
    unit: str

    @property
    def error(self) -> float:
        return self.recovered - self.truth


@dataclass
class DemoResult:
    project: Project
    stages: list[tuple[str, str]] = field(default_factory=list)  # (stage, what happened)
    measurements: list[Measurement] = field(default_factory=list)
    not_built: list[str] = field(default_factory=list)
    report_path: Path | None = None


def run_demo(workdir: str | Path, *, progress: Progress | None = None) -> DemoResult:
    """Run the demo in ``workdir`` (created; reused on a second run)."""
    workdir = Path(workdir)
    report(progress, 0, 1, "project")
    root = workdir / "project"
    if (root / "project.toml").exists():
        project = open_project(root)
    else:
        project = create_project(root, builtin_rig_path("demo"), name="demo")
    rig = project.rig()
    result = DemoResult(project=project)
    result.stages.append(
        (
            "rig",
            f"{rig.name}: {len(rig.cameras)} cameras at {rig.fps:g} fps, "
            f"{len(rig.keypoints)} keypoints, {len(rig.angles)} angles — valid",
        )
    )
    report(progress, 1, 1, "project")
    result.not_built = [
        "simulate (synthetic footage, DAQ streams and ground truth)",
        "calibrate",
        "track (DeepLabCut)",
        "sync",
        "triangulate",
        "analyze",
        "report",
    ]
    return result
