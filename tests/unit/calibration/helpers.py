"""Test helpers: rendered board images (observations from geometry: tests/fixtures)."""

from __future__ import annotations

import numpy as np


def board_images(spec, *, n: int = 4, size=(320, 256), seed: int = 0) -> list[np.ndarray]:
    """``n`` grayscale images of the board, nearly face-on, filling most of a small camera."""
    from mocap3d.calibration.board import board_image
    from mocap3d.camera import Camera, rodrigues_to_matrix
    from mocap3d.simulate.board_render import BoardTexture, ray_map, render_board

    w, h = size
    width_mm = max(spec.size_mm) * 1.3
    f = w * 200.0 / width_mm
    cam = Camera(
        "c", size, [[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]], [-0.05, 0, 0, 0, 0]
    )
    img, ppmm = board_image(spec, px_per_mm=12.0, margin_mm=spec.square_length_mm)
    margin = round(spec.square_length_mm * ppmm) / ppmm
    tex = BoardTexture(img.astype(np.float32) / 255 * 0.86 + 0.07, ppmm, margin)
    rays = ray_map(cam)
    rng = np.random.default_rng(seed)
    out = []
    centre = np.array([*spec.size_mm, 0.0]) / 2
    for _ in range(n):
        R = rodrigues_to_matrix(rng.normal(0, 0.25, 3))
        t = np.array([0, 0, 200.0]) - R @ centre + rng.normal(0, 5, 3)
        bg = np.full((h, w), 0.4, np.float32)
        frame = render_board(cam, rays, R, t, tex, bg, supersample=2)
        out.append(np.clip(frame * 255 + rng.normal(0, 1, frame.shape), 0, 255).astype(np.uint8))
    return out


def write_images(folder, images) -> None:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        cv2.imwrite(str(folder / f"img_{i:03d}.png"), img)
