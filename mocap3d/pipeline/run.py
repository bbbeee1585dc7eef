"""``mocap3d run PROJECT``: calibrate → track → sync → triangulate → analyse → report.

Each stage is split into steps — the project's calibration, one camera of one trial, one
session's sync, one trial's triangulation, then the project's analysis and report. A step runs
only when the key of its inputs (content hashes of the files it reads, the keys of the steps it
depends on, its settings) differs from the key it last finished with
(:mod:`mocap3d.pipeline.state`); the state is saved after every step, so an interrupted run
resumes. Steps of a stage run on the executor (:mod:`mocap3d.pipeline.executors`); a failing
step is recorded and the trials depending on it are marked blocked — every other trial still
completes.

Files users supply in place of a stage are used as they are ("provided"): a
``calibration/calibration.toml`` without calibration footage; DeepLabCut tracks at
``sessions/<s>/derived/tracks2d/<trial>/<camera>.h5`` for a camera without a trained model.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mocap3d._version import __version__
from mocap3d.errors import InputError
from mocap3d.io.project import Project, Session
from mocap3d.pipeline import tasks
from mocap3d.pipeline.executors import Call, Executor, SerialExecutor
from mocap3d.pipeline.hashing import file_digest, files_digest, task_key
from mocap3d.pipeline.result import Outcome, PipelineResult, Stage
from mocap3d.pipeline.state import PipelineState
from mocap3d.progress import Progress, report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineSettings:
    """Settings of a run (part of every step's key where they matter).

    Attributes
    ----------
    method : {"spatiotemporal", "robust", "dlt"}
        Triangulation method.
    min_score : float
        2D detections below this confidence are not triangulated.
    batch_size : int
        Frames per network forward pass when tracking.
    threads : int, optional
        torch threads per tracking task; default: the cores divided among the workers.
    analyze, report : bool
        Run the project's analysis and build its report.
    report_videos : bool
        Overlay videos in the report (the slowest part of it).
    force : bool
        Run every step again, even those whose inputs did not change.
    sessions : tuple of str, optional
        Only these sessions (default all).
    """

    method: Literal["spatiotemporal", "robust", "dlt"] = "spatiotemporal"
    min_score: float = 0.5
    batch_size: int = 8
    threads: int | None = None
    analyze: bool = True
    report: bool = True
    report_videos: bool = True
    force: bool = False
    sessions: tuple[str, ...] | None = None


def state_path(project: Project) -> Path:
    return project.outputs_dir / "pipeline" / "state.json"


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, InputError) else f"{type(exc).__name__}: {text}"


class _Run:
    """One run over a project (the stages share the state, the keys and the outcomes)."""

    def __init__(
        self,
        project: Project,
        settings: PipelineSettings,
        executor: Executor,
        progress: Progress | None,
    ):
        self.project = project
        self.root = str(project.root)
        self.s = settings
        self.ex = executor
        self.progress = progress
        self.rig = project.rig()
        self.state = PipelineState.load(state_path(project))
        self.cache = self.state.files
        self.result = PipelineResult(project.root, executor.description)
        self.rig_key = file_digest(project.rig_path, self.cache)
        chosen = settings.sessions
        self.sessions: list[Session] = (
            [project.session(n) for n in chosen] if chosen else project.sessions()
        )
        self.trials = [(s, t) for s in self.sessions for t in s.trials()]
        self.calib_key: str | None = None
        self.track_keys: dict[tuple[str, str, str], str] = {}
        self.sync_keys: dict[str, str] = {}
        self.tri_keys: dict[tuple[str, str], str] = {}

    # ---------------------------------------------------------------- helpers
    def done(self, step: str, key: str) -> bool:
        return not self.s.force and self.state.is_done(step, key)

    def outcome(self, stage: Stage, status: Any, **kw: Any) -> Outcome:
        o = self.result.add(Outcome(stage, status, **kw))
        if status == "failed":
            log.warning("%s failed: %s", o.name, o.message)
        return o

    def fail(self, stage: Stage, exc: BaseException, **kw: Any) -> Outcome:
        bad = isinstance(exc, InputError)
        return self.outcome(stage, "failed", message=_message(exc), bad_input=bad, **kw)

    def run_calls(
        self,
        stage: Stage,
        calls: list[tuple[Call, str, list[Path], dict[str, str]]],
        finish: Callable[[dict[str, str], Any], str] | None = None,
    ) -> None:
        """Run calls (call, key, outputs, outcome fields) on the executor and record each.

        ``finish(where, result)`` runs here on each result (writes what the task returned)
        and returns a note for the outcome.
        """
        total = len(calls)
        report(self.progress, 0, total, stage)
        by_name = {c.name: (key, outs, where) for c, key, outs, where in calls}
        for i, (call, timed, exc) in enumerate(self.ex.run([c for c, *_ in calls])):
            key, outs, where = by_name[call.name]
            if exc is not None:
                self.fail(stage, exc, **where)
            else:
                value, seconds = timed
                try:
                    note = finish(where, value) if finish is not None else ""
                except Exception as err:
                    self.fail(stage, err, **where)
                else:
                    self.state.record(call.name, key, outs)
                    self.outcome(stage, "done", seconds=seconds, message=note, **where)
            report(self.progress, i + 1, total, stage)

    # ---------------------------------------------------------------- stages
    def calibrate(self) -> None:
        p = self.project
        footage = p.calibration_footage_dir
        has_footage = footage.is_dir() and any(footage.iterdir())
        if not has_footage:
            if p.calibration_path.is_file():
                self.calib_key = file_digest(p.calibration_path, self.cache)
                self.outcome("calibrate", "provided", message=str(p.calibration_path))
            else:
                msg = (
                    f"no calibration footage in {footage} and no {p.calibration_path}; add "
                    "board videos (one per camera) or a calibration.toml"
                )
                self.fail("calibrate", InputError(msg))
            return
        key = task_key("calibrate", __version__, self.rig_key, files_digest([footage], self.cache))
        if self.done("calibrate", key):
            self.outcome("calibrate", "skipped")
        else:
            call = Call("calibrate", tasks.calibrate, (self.root,))
            self.run_calls("calibrate", [(call, key, [p.calibration_path], {})])
        if p.calibration_path.is_file() and self.state.is_done("calibrate", key):
            self.calib_key = file_digest(p.calibration_path, self.cache)

    def track(self) -> None:
        from mocap3d.tracking.analyze import tracks_path, trained_models

        models: dict[str, Any] = {}
        for cam in self.rig.camera_names:
            try:
                models[cam] = trained_models(self.project, [cam])[cam]
            except InputError as exc:
                models[cam] = exc
        threads = self.s.threads or max(1, (os.cpu_count() or 1) // max(1, self.ex.workers))
        calls = []
        for sess, trial in self.trials:
            for cam in self.rig.camera_names:
                where = {"session": sess.name, "trial": trial, "camera": cam}
                step = f"track/{sess.name}/{trial}/{cam}"
                out = tracks_path(sess, trial, cam)
                model = models[cam]
                if isinstance(model, InputError):
                    if out.is_file():
                        self.track_keys[(sess.name, trial, cam)] = file_digest(out, self.cache)
                        self.outcome("track", "provided", message=str(out), **where)
                    else:
                        msg = (
                            f"camera {cam!r}: no trained model ({model}) and no tracks at {out}; "
                            f"train one (`mocap3d track train {self.root} --camera {cam}`) or "
                            "put DeepLabCut tracks there"
                        )
                        self.fail("track", InputError(msg), **where)
                    continue
                try:
                    video = sess.video_path(trial, cam)
                except InputError as exc:
                    self.fail("track", exc, **where)
                    continue
                key = task_key(
                    "track", __version__, file_digest(video, self.cache), model.model_id,
                    self.s.batch_size,
                )  # fmt: skip
                self.track_keys[(sess.name, trial, cam)] = key
                if self.done(step, key):
                    self.outcome("track", "skipped", **where)
                    continue
                kwargs = {"threads": threads, "batch_size": self.s.batch_size}
                call = Call(step, tasks.track, (self.root, sess.name, trial, cam), kwargs)
                calls.append((call, key, [out], where))
        self.run_calls("track", calls)

    def sync(self) -> None:
        calls = []
        for sess in self.sessions:
            where = {"session": sess.name}
            videos = [sess.videos_dir, sess.raw_daq_path]
            key = task_key("sync", __version__, self.rig_key, files_digest(videos, self.cache))
            self.sync_keys[sess.name] = key
            step = f"sync/{sess.name}"
            if self.done(step, key):
                self.outcome("sync", "skipped", **where)
                continue
            outputs = [sess.derived_path, sess.outputs_dir / "sync" / "sync_report.json"]
            calls.append((Call(step, tasks.sync, (self.root, sess.name)), key, outputs, where))
        self.run_calls("sync", calls)

    def _failures_by_trial(self) -> dict[tuple[str, str], list[str]]:
        """Earlier failed steps each trial depends on: the calibration, its session's sync,
        its own steps."""
        project_wide: list[str] = []
        by_session: dict[str, list[str]] = {}
        by_trial: dict[tuple[str, str], list[str]] = {}
        for o in self.result.outcomes:
            if o.status != "failed":
                continue
            if o.trial:
                by_trial.setdefault((o.session, o.trial), []).append(o.name)
            elif o.session:
                by_session.setdefault(o.session, []).append(o.name)
            else:
                project_wide.append(o.name)
        return {
            (s.name, t): project_wide + by_session.get(s.name, []) + by_trial.get((s.name, t), [])
            for s, t in self.trials
        }

    def triangulate(self) -> None:
        calls = []
        failures = self._failures_by_trial()
        for sess, trial in self.trials:
            where = {"session": sess.name, "trial": trial}
            if failures[(sess.name, trial)]:
                why = ", ".join(failures[(sess.name, trial)])
                self.outcome("triangulate", "blocked", message=f"after {why}", **where)
                continue
            tracks = [self.track_keys[(sess.name, trial, c)] for c in self.rig.camera_names]
            key = task_key(
                "triangulate", __version__, self.rig_key, self.calib_key,
                self.sync_keys[sess.name], tracks, self.s.method, self.s.min_score,
            )  # fmt: skip
            self.tri_keys[(sess.name, trial)] = key
            step = f"triangulate/{sess.name}/{trial}"
            if self.done(step, key):
                self.outcome("triangulate", "skipped", **where)
                continue
            kwargs = {"method": self.s.method, "min_score": self.s.min_score}
            call = Call(step, tasks.triangulate, (self.root, sess.name, trial), kwargs)
            calls.append((call, key, [sess.derived_path], where))
        self.run_calls("triangulate", calls, finish=self._write_poses)

    def _write_poses(self, where: dict[str, str], value: Any) -> str:
        from mocap3d.io.session import write_dataset
        from mocap3d.report.content import group_name

        sess = self.project.session(where["session"])
        poses2d, poses3d, note = value
        write_dataset(sess.derived_path, group_name("poses2d", where["trial"]), poses2d)
        write_dataset(sess.derived_path, group_name("poses3d", where["trial"]), poses3d)
        return str(note)

    def _project_key(self, stage: str) -> str:
        daq = files_digest([s.raw_daq_path for s in self.sessions], self.cache)
        manifests = files_digest([s.manifest_path for s in self.sessions], self.cache)
        tri = {"/".join(k): v for k, v in self.tri_keys.items()}
        return task_key(stage, __version__, self.rig_key, self.calib_key, tri, daq,
                        manifests, self.s.report_videos if stage == "report" else None)  # fmt: skip

    def analyze(self) -> None:
        from mocap3d.analysis.project import analyze_project

        out = self.project.outputs_dir / "analysis"
        key = self._project_key("analyze")
        self.result.analysis_dir = out
        if self.done("analyze", key):
            self.outcome("analyze", "skipped")
            return
        t0 = time.perf_counter()
        try:
            res = analyze_project(
                self.project, poses="derived", out_dir=out, progress=self.progress
            )
        except Exception as exc:
            self.fail("analyze", exc)
            return
        self.state.record("analyze", key, [out])
        msg = f"{len(res.table)} trials → {out}"
        self.outcome("analyze", "done", seconds=time.perf_counter() - t0, message=msg)

    def build_report(self) -> None:
        from mocap3d.report.build import ReportOptions, build_project

        key = self._project_key("report")
        if self.done("report", key):
            outputs = self.state.steps["report"].get("outputs", [])
            self.result.report_path = Path(outputs[0]) if outputs else None
            self.outcome("report", "skipped", message=", ".join(outputs))
            return
        t0 = time.perf_counter()
        options = ReportOptions(videos=self.s.report_videos)
        try:
            page, _ = build_project(self.project, options=options, progress=self.progress)
        except Exception as exc:
            self.fail("report", exc)
            return
        self.result.report_path = page
        self.state.record("report", key, [page] if page else [])
        self.outcome("report", "done", seconds=time.perf_counter() - t0, message=str(page))


def run_pipeline(
    project: Project,
    settings: PipelineSettings = PipelineSettings(),
    *,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> PipelineResult:
    """Run every stage over a project (module docstring); never raises for a failing step.

    Returns
    -------
    PipelineResult
        Outcomes of every step, the report's path, failed trials (``failed_trials()``).

    Raises
    ------
    InputError
        Only for a project that cannot be run at all (no sessions, unreadable rig).
    """
    t0 = time.perf_counter()
    run = _Run(project, settings, executor or SerialExecutor(), progress)
    if not run.sessions:
        raise InputError(
            f"project {project.root} has no sessions (sessions/<name>/session.toml); add "
            "recordings with `mocap3d record` or simulate some with `mocap3d simulate project`"
        )
    try:
        run.calibrate()
        run.track()
        run.sync()
        run.triangulate()
        if settings.analyze:
            run.analyze()
        if settings.report:
            run.build_report()
    finally:
        run.state.save()  # what finished so far, also when interrupted
    run.result.seconds = time.perf_counter() - t0
    return run.result
