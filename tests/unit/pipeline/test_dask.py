"""The pipeline on Dask: the same results as a serial run; a local cluster on loopback only;
an existing scheduler by address; SLURM job scripts."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.io.project import open_project
from mocap3d.io.session import read_dataset
from mocap3d.pipeline import PipelineSettings, SlurmOptions, open_executor, run_pipeline
from mocap3d.pipeline.executors import slurm_cluster

SETTINGS = PipelineSettings(analyze=False, report=False)


def poses(project):
    out = {}
    for s in project.sessions():
        for t in s.trials():
            out[(s.name, t)] = read_dataset(s.derived_path, f"trials/{t}/poses3d")
    return out


@pytest.mark.slow
def test_local_cluster_gives_the_serial_results_and_listens_on_loopback(project, tmp_path):
    other = tmp_path / "copy"
    shutil.copytree(project.root, other)
    serial = run_pipeline(project, SETTINGS)
    with open_executor("local", workers=2) as ex:
        addresses = [ex.client.scheduler.address, *ex.client.scheduler_info()["workers"]]
        parallel = run_pipeline(open_project(other), SETTINGS, executor=ex)
    assert all(a.startswith("tcp://127.0.0.1:") for a in addresses), addresses
    assert len(addresses) == 3
    assert serial.ok and parallel.ok
    a, b = poses(project), poses(open_project(other))
    assert a.keys() == b.keys() and len(a) == 4
    for k in a:
        np.testing.assert_array_equal(a[k]["position"].values, b[k]["position"].values)
        np.testing.assert_array_equal(a[k]["time"].values, b[k]["time"].values)


@pytest.mark.slow
def test_an_existing_scheduler_by_address(project):
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1",
                           dashboard_address=None)  # fmt: skip
    with cluster, open_executor(cluster.scheduler_address) as ex:
        result = run_pipeline(project, SETTINGS, executor=ex)
    assert result.ok
    assert "tcp://127.0.0.1" in result.executor


def test_unknown_or_unreachable_scheduler_is_bad_input():
    with pytest.raises(InputError, match="unknown scheduler"), open_executor("mars"):
        pass
    with (
        pytest.raises(InputError, match="cannot reach"),
        open_executor("tcp://127.0.0.1:9", timeout=2),
    ):
        pass


def test_slurm_job_script_asks_for_what_was_given():
    pytest.importorskip("dask_jobqueue")
    opts = SlurmOptions(jobs=3, cores=4, memory="16GB", walltime="01:30:00", queue="short",
                        account="lab42")  # fmt: skip
    cluster = slurm_cluster(opts)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p short", "#SBATCH -A lab42", "#SBATCH -t 01:30:00",
                 "#SBATCH --cpus-per-task=4"):  # fmt: skip
        assert line in script, script
    assert "--nthreads 1" in script and "--no-nanny" in script
