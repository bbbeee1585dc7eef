"""Synthetic labelled frames and trial videos for tracking tests, with exact ground truth.

A "mouse" is an ellipse with four coloured markers (nose, left paw, right paw, tail base)
drawn at sub-pixel positions on a noisy background; the labels are the markers' centres.
Trials are short videos of the mouse walking along a smooth path while its paws swing.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mocap3d.io.dlc import LabelledFrames, write_collected_data
from mocap3d.io.project import Project, create_project

KEYPOINTS = ["nose", "paw_l", "paw_r", "tail"]
LEFT_RIGHT = [("paw_l", "paw_r")]
COLOURS = [(255, 255, 255), (40, 40, 255), (255, 60, 40), (40, 220, 40)]  # BGR
SIZE = (160, 128)  # width, height
CAMERAS = ["cam_a", "cam_b"]
_SHIFT = 4  # cv2 fixed-point bits: 1/16 px
_BACKGROUND = {"cam_a": 70.0, "cam_b": 95.0}


def pose(centre: np.ndarray, angle: float, swing: float = 0.0) -> np.ndarray:
    """(4, 2) keypoints of a mouse at ``centre`` heading ``angle`` (rad)."""
    d = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-d[1], d[0]])
    return np.array(
        [
            centre + 26 * d,
            centre + (8 + swing) * d + 13 * n,
            centre + (8 - swing) * d - 13 * n,
            centre - 26 * d,
        ]
    )


def render(
    pts: np.ndarray, rng: np.random.Generator, *, size=SIZE, background: float = 70.0
) -> np.ndarray:
    """A BGR frame showing the mouse whose keypoints are ``pts`` (4, 2)."""
    w, h = size
    img = np.clip(rng.normal(background, 10, (h, w, 3)), 0, 255).astype(np.uint8)
    centre = (pts[0] + pts[3]) / 2
    d = pts[0] - pts[3]
    angle = float(np.degrees(np.arctan2(d[1], d[0])))
    scale = 1 << _SHIFT
    c = (round(centre[0] * scale), round(centre[1] * scale))
    axes = (26 * scale, 10 * scale)
    cv2.ellipse(img, c, axes, angle, 0, 360, (130, 120, 110), -1, cv2.LINE_AA, _SHIFT)
    for p, col in zip(pts, COLOURS, strict=True):
        xy = (round(p[0] * scale), round(p[1] * scale))
        cv2.circle(img, xy, 4 * scale, col, -1, cv2.LINE_AA, _SHIFT)
    return img


def draw(rng: np.random.Generator, size=SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One random frame and its (4, 2) keypoints."""
    w, h = size
    centre = np.array([rng.uniform(0.3 * w, 0.7 * w), rng.uniform(0.35 * h, 0.65 * h)])
    angle = rng.uniform(-0.6, 0.6) + (np.pi if rng.random() < 0.5 else 0.0)
    pts = pose(centre, angle, rng.uniform(-5, 5))
    return render(pts, rng, size=size), pts


def trial_track(rng: np.random.Generator, n: int, size=SIZE) -> np.ndarray:
    """(n, 4, 2) keypoints of a mouse walking smoothly across the frame."""
    w, h = size
    t = np.linspace(0, 1, n)
    start = np.array([rng.uniform(0.28, 0.4) * w, rng.uniform(0.35, 0.65) * h])
    end = np.array([rng.uniform(0.6, 0.72) * w, rng.uniform(0.35, 0.65) * h])
    if rng.random() < 0.5:
        start, end = end, start
    heading = float(np.arctan2(*(end - start)[::-1]))
    wobble = rng.uniform(0.2, 0.5)
    phase = rng.uniform(0, 2 * np.pi)
    out = np.empty((n, 4, 2))
    for i, ti in enumerate(t):
        centre = start + (end - start) * ti
        angle = heading + wobble * np.sin(2 * np.pi * ti + phase)
        out[i] = pose(centre, angle, 5 * np.sin(6 * np.pi * ti + phase))
    return out


def write_video(path: Path, frames: list[np.ndarray], fps: float = 100.0) -> Path:
    """Write BGR frames as an MJPG .avi (good quality at small sizes)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def write_video_labels(
    folder: Path, stem: str, n: int, rng: np.random.Generator, scorer: str = "mocap3d"
) -> LabelledFrames:
    """Write ``n`` random labelled frames into ``folder/labeled-data/<stem>/``."""
    dest = folder / "labeled-data" / stem
    dest.mkdir(parents=True, exist_ok=True)
    images, xy = [], []
    for i in range(n):
        img, pts = draw(rng)
        cv2.imwrite(str(dest / f"img{i:05d}.png"), img)
        images.append(f"labeled-data/{stem}/img{i:05d}.png")
        xy.append(pts)
    labels = LabelledFrames(images, KEYPOINTS, np.asarray(xy), scorer)
    write_collected_data(dest, labels)
    return labels


def rig_toml(repo: Path, *, size=SIZE, keypoints=KEYPOINTS, cameras=CAMERAS) -> str:
    board = repo / "calibration" / "boards" / "charuco-7x5-10mm.toml"
    cams = "".join(
        f'[[cameras]]\nname = "{c}"\nresolution = [{size[0]}, {size[1]}]\nfps = 100\n\n'
        for c in cameras
    )
    kps = ", ".join(f'"{k}"' for k in keypoints)
    lr = '[["paw_l", "paw_r"]]' if "paw_l" in keypoints else "[]"
    return (
        f'[rig]\nname = "blobs"\n\n{cams}[calibration]\nboard = "{board}"\n\n'
        f'[skeleton]\nkeypoints = [{kps}]\nbones = [["{keypoints[0]}", "{keypoints[-1]}"]]\n'
        f'body_length = ["{keypoints[0]}", "{keypoints[-1]}"]\nleft_right = {lr}\n'
    )


def make_project(
    root: Path,
    repo: Path,
    *,
    trials: int = 6,
    frames: int = 40,
    seed: int = 0,
    size=SIZE,
    keypoints=KEYPOINTS,
) -> tuple[Project, dict[tuple[str, str, str], np.ndarray]]:
    """A mocap3d project with one session of ``trials`` two-camera trial videos.

    Returns the project and the ground truth ``{(session, trial, camera): (frames, 4, 2)}``.
    """
    rig_path = root.parent / f"{root.name}-rig.toml"
    rig_path.write_text(rig_toml(repo, size=size, keypoints=keypoints))
    project = create_project(root, rig_path)
    session = project.new_session("s1", subject="m1")
    rng = np.random.default_rng(seed)
    truth = {}
    for t in range(trials):
        trial = f"trial_{t + 1:02d}"
        folder = session.videos_dir / trial
        folder.mkdir(parents=True)
        for cam in CAMERAS:
            track = trial_track(rng, frames, size)
            imgs = [render(p, rng, size=size, background=_BACKGROUND[cam]) for p in track]
            write_video(folder / f"{cam}.avi", imgs)
            truth[("s1", trial, cam)] = track
    return project, truth


def label_extracted(project: Project, truth: dict) -> int:
    """Act as the labeller: write ground-truth labels for every extracted image."""
    from mocap3d.tracking.project import open_tracking

    tracking = open_tracking(project)
    n = 0
    for stem, ref in tracking.videos.items():
        folder = tracking.model_dir(tracking.model_for(ref.camera)) / "labeled-data" / stem
        pngs = sorted(folder.glob("img*.png"))
        frames = [int(p.stem[3:]) for p in pngs]
        xy = truth[(ref.session, ref.trial, ref.camera)][frames]
        images = [f"labeled-data/{stem}/{p.name}" for p in pngs]
        write_collected_data(folder, LabelledFrames(images, KEYPOINTS, xy, tracking.scorer))
        n += len(images)
    return n
