"""Simulated experiments end to end (DAQ force → jump height → group test), across seeds.

Each experiment: 3 control mice vs 3 perturbed mice (weaker push-off, docs/simulate.md), one
jump each, jump height from the simulated force channel, Welch's t-test on per-animal values
at alpha = 0.05. The null case compares the same 3 control mice with 3 other control mice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from mocap3d.analysis.groups import compare_groups
from mocap3d.analysis.kinetics import compute_force_metrics
from mocap3d.rig import load_rig
from mocap3d.simulate.jump_params import CONTROL, PERTURBED
from mocap3d.simulate.rig_geometry import camera_layout
from mocap3d.simulate.session import SessionOptions, TrialPlan, hash_seed, plan_session

N_EXPERIMENTS = 20
MICE = 3
ALPHA = 0.05


def _mouse(rig, cams, group, seed: int) -> float:
    """Jump height (v²/2g, mm) of one simulated jump, from the DAQ's force stream."""
    opts = SessionOptions(duration_s=1.0, lead_in_s=0.4, gap_s=0.3, videos=False)
    plan = plan_session(rig, cams, [TrialPlan("t", group, seed)], seed=seed, options=opts)
    sig, timing = plan.signals, plan.timings[0]
    rate = sig.rate("slow")
    i0 = int((timing.start_s - 0.3) * rate)
    n = int(1.3 * rate)
    ch = rig.channels_of("slow")
    k = [c.kind for c in ch].index("force")
    volts = sig.block("slow", i0, n)[:, k].astype(np.float64)
    force = volts * ch[k].scale + ch[k].offset
    t = (i0 + np.arange(n)) / rate
    da = xr.DataArray(force, dims="time", coords={"time": t}, attrs={"rate_hz": rate})
    return compute_force_metrics(da).metrics.get("jump_height_impulse_mm")


@pytest.mark.slow
def test_a_group_difference_is_detected_and_a_null_difference_is_not(demo_rig_path):
    rig = load_rig(demo_rig_path)
    cams = camera_layout(rig, seed=0)
    detected = false_pos = 0
    for e in range(N_EXPERIMENTS):
        heights = {
            name: [_mouse(rig, cams, grp, hash_seed(31, e, i, m)) for m in range(MICE)]
            for i, (name, grp) in enumerate(
                (("control", CONTROL), ("perturbed", PERTURBED), ("control_b", CONTROL))
            )
        }
        rows = [{"subject": f"{g}{m}", "group": g, "h": h}
                for g, hs in heights.items() for m, h in enumerate(hs)]  # fmt: skip
        df = pd.DataFrame(rows)
        df.attrs["units"] = {"h": "mm"}
        assert np.isfinite(df["h"]).all()
        effect = compare_groups(df[df.group != "control_b"], "h", alpha=ALPHA)
        null = compare_groups(
            df[df.group != "perturbed"], "h", groups=("control", "control_b"), alpha=ALPHA
        )
        detected += effect.significant
        false_pos += null.significant
    print(  # noqa: T201 (the rates are this test's report: run with -s)
        f"\n{N_EXPERIMENTS} simulated experiments per case, {MICE} mice per group, Welch, "
        f"alpha {ALPHA}: difference detected in {detected}/{N_EXPERIMENTS}, "
        f"null rejected in {false_pos}/{N_EXPERIMENTS}"
    )
    assert detected >= 0.9 * N_EXPERIMENTS
    # binomial(20, 0.05): P(≥ 5 rejections) = 0.3 %
    assert false_pos <= 4
