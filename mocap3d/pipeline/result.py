"""What a pipeline run did: one outcome per step, failed trials, a summary table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

Stage = Literal["calibrate", "track", "sync", "triangulate", "analyze", "report"]
STAGES: tuple[Stage, ...] = ("calibrate", "track", "sync", "triangulate", "analyze", "report")

Status = Literal["done", "skipped", "provided", "failed", "blocked"]
"""done: ran now; skipped: inputs unchanged since it last ran; provided: the user supplied the
output (a calibration file, DeepLabCut tracks); failed: it raised; blocked: an earlier step of
the same trial failed."""


@dataclass(frozen=True)
class Outcome:
    """One step of one stage (a project, a session, a trial or one camera of a trial)."""

    stage: Stage
    status: Status
    session: str = ""
    trial: str = ""
    camera: str = ""
    seconds: float = 0.0
    message: str = ""
    bad_input: bool = False
    """A failure caused by the inputs (a clear message says what to fix), not by mocap3d."""

    @property
    def name(self) -> str:
        return "/".join(p for p in (self.stage, self.session, self.trial, self.camera) if p)


@dataclass
class PipelineResult:
    """Everything a run did, in order."""

    project_root: Path
    executor: str
    outcomes: list[Outcome] = field(default_factory=list)
    report_path: Path | None = None
    analysis_dir: Path | None = None
    seconds: float = 0.0

    def add(self, outcome: Outcome) -> Outcome:
        self.outcomes.append(outcome)
        return outcome

    @property
    def failures(self) -> list[Outcome]:
        """Steps that raised (not those only blocked by them)."""
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failures

    def failed_trials(self) -> list[tuple[str, str, str]]:
        """(session, trial, why) of every trial a failure or a block left incomplete."""
        out: dict[tuple[str, str], str] = {}
        for o in self.outcomes:
            if o.status in ("failed", "blocked") and o.trial:
                out.setdefault((o.session, o.trial), f"{o.stage}: {o.message}")
        return [(s, t, why) for (s, t), why in out.items()]

    def summary(self) -> pd.DataFrame:
        """Steps per stage and status, and seconds spent per stage (rows in pipeline order)."""
        df = pd.DataFrame(
            [{"stage": o.stage, "status": o.status, "seconds": o.seconds} for o in self.outcomes]
        )
        cols = ["done", "skipped", "provided", "failed", "blocked"]
        if df.empty:
            return pd.DataFrame(columns=[*cols, "seconds"])
        table = df.pivot_table(
            index="stage", columns="status", values="seconds", aggfunc="count", fill_value=0
        )
        table = table.reindex(columns=cols, fill_value=0).astype(int)
        table["seconds"] = df.groupby("stage")["seconds"].sum().round(1)
        return table.reindex([s for s in STAGES if s in table.index])
