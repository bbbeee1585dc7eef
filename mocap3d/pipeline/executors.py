"""Where the pipeline's tasks run: in this process, or on a Dask cluster.

``serial``      in the calling process, one task after another.
``local``       a Dask ``LocalCluster`` of worker processes on this machine, listening on
                loopback (127.0.0.1) only — nothing is reachable from the network.
``tcp://H:P``   an existing Dask scheduler (``dask scheduler`` / ``dask worker`` started by you).
``slurm``       a Dask scheduler here and workers submitted as SLURM jobs (dask-jobqueue).

Every executor yields each task's result and the seconds it took where it ran (or the
exception it raised) as it finishes; a failing task never stops the others.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mocap3d.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Call:
    """One task: ``fn(*args, **kwargs)``, named for progress and error messages."""

    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and the seconds it took (where it ran)."""
    t0 = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - t0


class Executor(Protocol):
    description: str

    @property
    def workers(self) -> int: ...

    def run(self, calls: Sequence[Call]) -> Iterator[tuple[Call, Any, BaseException | None]]:
        """Yield ``(call, (result, seconds), None)`` or ``(call, None, exception)`` as calls
        finish."""
        ...


class SerialExecutor:
    """Runs every call in this process, in order."""

    workers = 1
    description = "serial (this process)"

    def run(self, calls: Sequence[Call]) -> Iterator[tuple[Call, Any, BaseException | None]]:
        for call in calls:
            try:
                result = timed(call.fn, *call.args, **call.kwargs)
            except Exception as exc:
                yield call, None, exc
            else:
                yield call, result, None


class DaskExecutor:
    """Runs calls on a ``distributed.Client``, one task per call."""

    def __init__(self, client: Any, description: str):
        self.client = client
        self.description = description

    @property
    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def run(self, calls: Sequence[Call]) -> Iterator[tuple[Call, Any, BaseException | None]]:
        from distributed import as_completed

        if not calls:
            return
        futures = {
            self.client.submit(timed, c.fn, *c.args, **c.kwargs, pure=False, key=_key(c)): c
            for c in calls
        }
        for fut in as_completed(futures):
            call = futures[fut]
            if fut.status == "finished":
                yield call, fut.result(), None
            else:
                yield call, None, fut.exception()
            fut.release()


def _key(call: Call) -> str:
    import uuid

    return f"{call.name.replace('/', ':')}-{uuid.uuid4().hex[:8]}"


Scheduler = Literal["serial", "local", "slurm"] | str


@dataclass(frozen=True)
class SlurmOptions:
    """Workers as SLURM jobs (dask-jobqueue's ``SLURMCluster``): one worker process per job."""

    jobs: int = 4
    cores: int = 2
    memory: str = "8GB"
    walltime: str = "02:00:00"
    queue: str | None = None
    account: str | None = None
    extra: tuple[str, ...] = ()


def slurm_cluster(options: SlurmOptions) -> Any:
    """A ``SLURMCluster`` (jobs not yet submitted: call ``scale``)."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise InputError("--slurm needs dask-jobqueue: pip install dask-jobqueue") from None
    return SLURMCluster(
        cores=options.cores,
        processes=1,
        memory=options.memory,
        walltime=options.walltime,
        queue=options.queue,
        account=options.account,
        job_extra_directives=list(options.extra),
        worker_extra_args=["--nthreads", "1"],
        nanny=False,  # no nanny: no MALLOC_TRIM_THRESHOLD_ in the workers (see _worker_environ)
    )


def default_local_workers() -> int:
    """One worker per core (at most 8), each task single-threaded."""
    return max(1, min(os.cpu_count() or 1, 8))


def _worker_environ() -> dict[str, Any]:
    """Dask's environment for worker processes without ``MALLOC_TRIM_THRESHOLD_``.

    Dask sets it to 64 KiB, which also fixes glibc's mmap threshold: every large tensor of a
    network's forward pass is then mapped and unmapped, and tracking runs at half speed
    (measured: 22.9 s vs 11.1 s per 500-frame video and worker). Thread limits are kept.
    """
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


@contextlib.contextmanager
def open_executor(
    scheduler: Scheduler = "local",
    *,
    workers: int | None = None,
    slurm: SlurmOptions | None = None,
    timeout: float = 20.0,
) -> Iterator[SerialExecutor | DaskExecutor]:
    """The executor for ``scheduler`` (see the module docstring); clusters it started are
    closed on exit.

    Parameters
    ----------
    workers : int, optional
        ``local``: worker processes (default :func:`default_local_workers`).
    timeout : float
        Seconds to wait for an existing scheduler to answer.
    """
    if scheduler == "serial":
        yield SerialExecutor()
        return
    import dask
    from distributed import Client, LocalCluster

    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        # distributed logs every connection at INFO by its own configuration; keep the
        # console to warnings unless the user asked for more (-v)
        logging.getLogger("distributed").setLevel(logging.WARNING)

    if scheduler == "local":
        n = workers or default_local_workers()
        with dask.config.set({"distributed.nanny.pre-spawn-environ": _worker_environ()}):
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                scheduler_port=0,
                silence_logs=logging.ERROR,
            )
        with cluster, Client(cluster) as client:
            where = cluster.scheduler_address
            yield DaskExecutor(client, f"Dask LocalCluster, {n} workers on {where}")
        return
    if scheduler == "slurm":
        opts = slurm or SlurmOptions()
        cluster = slurm_cluster(opts)
        cluster.scale(jobs=opts.jobs)
        with cluster, Client(cluster) as client:
            yield DaskExecutor(client, f"SLURM via dask-jobqueue, {opts.jobs} jobs")
        return
    if scheduler.startswith(("tcp://", "tls://")):
        try:
            client = Client(scheduler, timeout=timeout)
        except OSError as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS`, or use "
                "--scheduler local"
            ) from None
        with client:
            yield DaskExecutor(client, f"Dask scheduler {scheduler}")
        return
    raise InputError(
        f"unknown scheduler {scheduler!r}: use 'local', 'serial', 'slurm' or tcp://HOST:PORT"
    )
