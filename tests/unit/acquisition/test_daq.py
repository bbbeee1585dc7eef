"""DAQ settings from a rig, the simulated backend, pulse trains and edge counting."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mocap3d.acquisition.daq import AcquisitionError, Block, DaqConfig, DaqFault
from mocap3d.acquisition.simdaq import SimDaqBackend, pattern_source, pulse_train
from mocap3d.acquisition.status import EdgeCounter
from mocap3d.errors import InputError
from mocap3d.rig import load_rig, rig_from_dict


@pytest.fixture(scope="module")
def seed_config(seed_rig_path):
    return DaqConfig.from_rig(load_rig(seed_rig_path), block_s=0.1, buffer_s=5.0)


def test_config_from_the_seed_rig(seed_config, seed_rig_path):
    c = seed_config
    rig = load_rig(seed_rig_path)
    assert [s.name for s in c.streams] == ["fast", "slow"]  # master first
    fast, slow = c.streams
    assert fast.physical_channels == [f"Dev1/ai{i}" for i in range(6)]
    assert slow.physical_channels == ["Dev2/ai0", "Dev2/ai1"]
    assert fast.samples_per_block == 2000 and slow.samples_per_block == 1000
    assert fast.channels[0].terminal_config == "differential"
    assert fast.channels[4].range_v == (-1.0, 6.0)
    spec = rig.channel("force_z")
    assert (slow.channels[0].scale, slow.channels[0].offset) == (spec.scale, spec.offset)
    assert slow.channels[0].unit == "N" and spec.scale != 1.0
    t = c.trigger
    assert t is not None
    assert (t.device, t.counter, t.output_terminal, t.fps, t.duty_cycle) == (
        "Dev1",
        "ctr0",
        "PFI12",
        500.0,
        0.2,
    )
    assert t.start_trigger == "/Dev1/ai/StartTrigger"
    assert len(t.cameras) == 4


def test_config_errors_name_the_problem(seed_rig_path):
    rig = load_rig(seed_rig_path)
    with pytest.raises(InputError, match="block_s"):
        DaqConfig.from_rig(rig, block_s=0.1, buffer_s=0.1)
    data = rig.model_dump(mode="json")
    data.pop("daq")
    no_daq = rig_from_dict(data, base_dir=seed_rig_path.parent)
    with pytest.raises(InputError, match=r"no \[daq\] section"):
        DaqConfig.from_rig(no_daq)


def test_frames_by_counts_rising_edges_of_the_trigger():
    """Trigger k rises at sample ceil(k·rate/fps): as many edges as frames_by says."""
    from mocap3d.acquisition.daq import TriggerConfig

    t = TriggerConfig("Dev1", "ctr0", "PFI12", 300.0, 0.2, "/Dev1/ai/StartTrigger", ())
    rate = 20000.0
    x = pulse_train(0, 100_001, rate, t0_s=0.0, fps=t.fps, high_s=0.2 / t.fps)
    for n in (1, 66, 67, 68, 20000, 100_001):
        counter = EdgeCounter("x", "s", 0)
        counter.update(0, x[:n, None])
        assert counter.count == t.frames_by(n, rate), n


def test_edge_counter_is_independent_of_block_boundaries(rng):
    x = (rng.random(10_000) > 0.7).astype(float) * 5.0
    whole = EdgeCounter("x", "s", 0)
    whole.update(0, x[:, None])
    parts = EdgeCounter("x", "s", 0)
    cuts = np.sort(rng.choice(np.arange(1, 10_000), 40, replace=False))
    for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True):
        parts.update(int(a), x[a:b, None])
    expected = int(np.sum((x[1:] > 1.5) & (x[:-1] <= 1.5)) + (x[0] > 1.5))
    assert whole.count == parts.count == expected
    assert parts.last_edge_sample == whole.last_edge_sample


def test_pattern_source_is_deterministic_and_has_exposure_pulses(seed_config):
    src = pattern_source(seed_config, exposure_channels=["cam_exposure"], seed=3)
    a = src("fast", 0, 5000)
    b = np.concatenate([src("fast", 0, 1234), src("fast", 1234, 3766)])
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5000, 6)
    exposure = a[:, 4]
    assert exposure[0] > 4.5 and exposure[7] > 4.5 and exposure[8] < 1  # 20 % of 40 samples
    assert np.all(a[:, 5] < 1)  # other TTL channels stay low
    assert abs(np.std(a[:, 0]) - 0.02) < 0.002  # EMG noise level


def _run(backend: SimDaqBackend, config: DaqConfig, until: int) -> tuple[list, list]:
    blocks: list[Block] = []
    faults: list[DaqFault] = []
    done = threading.Event()

    def on_block(b: Block) -> None:
        blocks.append(b)
        if b.stream == config.master_stream and b.start_sample + b.n_samples >= until:
            done.set()

    def on_fault(f: DaqFault) -> None:
        faults.append(f)
        done.set()

    backend.configure(config)
    backend.start(on_block, on_fault)
    done.wait(10)
    backend.stop()
    return blocks, faults


def test_sim_backend_delivers_every_sample_in_order(seed_config):
    src = pattern_source(seed_config, seed=1)
    blocks, faults = _run(SimDaqBackend(src, speed=None), seed_config, 40_000)
    assert not faults
    for name in ("fast", "slow"):
        mine = [b for b in blocks if b.stream == name]
        starts = [b.start_sample for b in mine]
        assert starts == list(range(0, starts[-1] + 1, mine[0].n_samples))
        data = np.concatenate([b.data for b in mine])
        np.testing.assert_array_equal(data, src(name, 0, len(data)))
    ends = [(b.start_sample + b.n_samples) / seed_config.stream(b.stream).rate_hz for b in blocks]
    assert ends == sorted(ends)  # streams interleaved in time order


def test_sim_backend_reports_overflow_when_the_consumer_stalls(seed_rig_path):
    config = DaqConfig.from_rig(load_rig(seed_rig_path), block_s=0.05, buffer_s=0.2)
    faults: list[DaqFault] = []
    backend = SimDaqBackend(pattern_source(config), speed=1.0)
    backend.configure(config)
    got = threading.Event()

    def slow(block: Block) -> None:
        if block.start_sample == 0 and block.stream == "fast":
            time.sleep(0.6)  # longer than the 0.2 s buffer

    backend.start(slow, lambda f: (faults.append(f), got.set()))
    assert got.wait(5)
    backend.stop()
    assert faults[0].kind == "overflow" and "buffer overflow" in faults[0].message
    assert faults[0].lost_samples is not None and faults[0].lost_samples > 0


def test_sim_backend_injected_overflow_and_bad_source(seed_config):
    _, faults = _run(
        SimDaqBackend(pattern_source(seed_config), speed=None, inject_overflow_at_s=0.5),
        seed_config,
        10**9,
    )
    assert faults[0].kind == "overflow" and faults[0].sample == 10_000
    _, faults = _run(SimDaqBackend(lambda s, a, n: np.zeros((n, 1)), speed=None), seed_config, 10)
    assert faults[0].kind == "error" and "expected (2000, 6)" in faults[0].message
    with pytest.raises(AcquisitionError, match="unknown channel"):
        SimDaqBackend(wires={"nope": lambda a, n, r: np.zeros(n)}).configure(seed_config)
