"""The simulated jump is physically consistent and its truth is self-consistent."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import InputError
from mocap3d.simulate.jump import G, Jump
from mocap3d.simulate.jump_params import CONTROL, PERTURBED, JumpGroup, draw_trial
from mocap3d.simulate.skeleton import KEYPOINTS, MouseBody, flexion_angle


def test_same_seed_same_jump_other_seed_other_jump(control_jump, frame_times):
    again = Jump(draw_trial(CONTROL, 11))
    np.testing.assert_array_equal(control_jump.keypoints(frame_times), again.keypoints(frame_times))
    other = Jump(draw_trial(CONTROL, 12))
    assert not np.allclose(control_jump.keypoints(frame_times), other.keypoints(frame_times))


def test_events_are_ordered_and_pushoff_lasts_about_60_ms(control_jump):
    ev = control_jump.events
    times = [ev.onset, ev.pushoff_start, ev.takeoff, ev.landing, ev.landing_end, ev.recovery_end]
    assert times == sorted(times)
    assert 0.04 < ev.takeoff - ev.pushoff_start < 0.08
    assert 0.1 < control_jump.flight_time_s < 0.3


@pytest.mark.parametrize("jump_name", ["control_jump", "perturbed_jump"])
def test_force_is_mass_times_com_acceleration_plus_g(request, jump_name):
    jump = request.getfixturevalue(jump_name)
    ev = jump.events
    t = np.linspace(0.02, ev.recovery_end + 0.05, 701)
    h = 1e-4
    z = lambda tt: jump.com(tt)[:, 2] / 1000.0  # noqa: E731
    accel = (z(t + h) - 2 * z(t) + z(t - h)) / h**2
    force = jump.force_z(t)
    contact = (t < ev.takeoff - 2 * h) | (t > ev.landing + 2 * h)
    # finite differences of positions recovered through inverse kinematics: ~1e-3 N
    np.testing.assert_allclose(force[contact], jump.mass * (accel[contact] + G), atol=3e-3)
    flight = (t > ev.takeoff + 2 * h) & (t < ev.landing - 2 * h)
    assert np.all(force[flight] == 0.0)
    np.testing.assert_allclose(accel[flight], -G, atol=2e-3)  # ballistic
    assert force.max() > 3 * jump.mass * G  # push-off and landing peaks


def test_impulse_over_mass_equals_kinematic_takeoff_velocity(control_jump):
    jump = control_jump
    ev = jump.events
    t = np.arange(0.0, ev.takeoff, 1e-4)  # the force at 10 kHz
    impulse = np.sum(jump.force_z(t) - jump.mass * G) * 1e-4
    v_kin = jump.com_velocity(np.array([ev.takeoff]))[0, 2]
    assert impulse / jump.mass == pytest.approx(v_kin, rel=0.01)
    assert jump.takeoff_velocity[2] == pytest.approx(v_kin, rel=1e-4)
    assert jump.jump_height_mm == pytest.approx(v_kin**2 / (2 * G) * 1000.0, rel=1e-3)
    apex = jump.com(np.linspace(ev.takeoff, ev.landing, 2001))[:, 2].max()
    rise = apex - jump.com(np.array([ev.takeoff]))[0, 2]
    assert rise == pytest.approx(jump.jump_height_mm, abs=0.05)


def test_feet_stay_planted_while_in_contact(control_jump):
    jump = control_jump
    ev = jump.events
    before = np.linspace(0.0, ev.takeoff - 1e-4, 300)
    after = np.linspace(ev.landing + 1e-4, 1.0, 300)
    for t in (before, after):
        pts = jump.keypoints(t, names=("mtp", "toe"))
        assert np.ptp(pts, axis=0).max() < 1e-6
        np.testing.assert_allclose(pts[:, :, 2], MouseBody().scaled(1.0).marker_height, atol=1e-6)


def test_joint_angles_are_the_keypoints_flexion_angles(control_jump, frame_times):
    pts = control_jump.points(frame_times)
    angles = control_jump.joint_angles(frame_times)
    knee = flexion_angle(pts["hip"], pts["knee"], pts["ankle"])
    np.testing.assert_allclose(angles["knee"], knee)
    for name, a in angles.items():
        assert np.all((a > np.radians(20)) & (a < np.radians(178))), name
    kp = control_jump.keypoints(frame_times)
    assert kp.shape == (len(frame_times), len(KEYPOINTS), 3)
    ds = control_jump.poses3d(frame_times, fps=500.0)
    np.testing.assert_array_equal(
        ds.position.sel(individual="individual_0").transpose("time", "keypoint", "space"), kp
    )
    assert np.all(np.isfinite(kp))
    assert np.all(kp[..., 2] > 0)  # nothing below the floor


def test_perturbed_group_jumps_lower():
    control = [Jump(draw_trial(CONTROL, s)) for s in range(3)]
    perturbed = [Jump(draw_trial(PERTURBED, s)) for s in range(3)]
    assert np.mean([j.jump_height_mm for j in perturbed]) < 0.8 * np.mean(
        [j.jump_height_mm for j in control]
    )
    assert np.mean([j.takeoff_velocity[2] for j in perturbed]) < np.mean(
        [j.takeoff_velocity[2] for j in control]
    )


def test_group_parameters_are_checked():
    with pytest.raises(InputError, match="takeoff_speed_z"):
        JumpGroup("bad", takeoff_speed_z=5.0)
    with pytest.raises(InputError, match="unknown muscles"):
        JumpGroup("bad", emg_gain={"deltoid": 0.5})
