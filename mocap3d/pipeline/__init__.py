"""The stages wired over a project folder, incremental and resumable, serial or on Dask.

See :mod:`mocap3d.pipeline.run` (``run_pipeline``), :mod:`mocap3d.pipeline.executors`
(where tasks run) and :mod:`mocap3d.pipeline.state` (what was done).
"""

from mocap3d.pipeline.executors import SlurmOptions, open_executor
from mocap3d.pipeline.result import Outcome, PipelineResult
from mocap3d.pipeline.run import PipelineSettings, run_pipeline

__all__ = [
    "Outcome",
    "PipelineResult",
    "PipelineSettings",
    "SlurmOptions",
    "open_executor",
    "run_pipeline",
]
