"""Calibration footage of one camera: a video file or a folder of images, read frame by frame.

Frames are numbered from 0 in file order (videos) or natural name order (image folders,
``frame_2.png`` before ``frame_10.png``). Every frame is returned as 8-bit grayscale.
Unreadable files and image folders with mixed sizes raise :class:`~mocap3d.errors.InputError`
naming the camera and the fix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap3d.errors import InputError
from mocap3d.io.project import VIDEO_SUFFIXES, natural_key

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass(frozen=True)
class Footage:
    """One camera's calibration footage.

    Attributes
    ----------
    camera : str
    path : Path
        A video file or an image folder.
    images : tuple of Path
        The image files of a folder, in frame order (empty for a video).
    n_frames : int
        Frames in the footage (for videos: what the container reports; the true count is
        known after reading).
    size : (int, int)
        Width and height in pixels (of the first frame).
    """

    camera: str
    path: Path
    images: tuple[Path, ...]
    n_frames: int
    size: tuple[int, int]

    @property
    def is_video(self) -> bool:
        return not self.images

    def fingerprint(self) -> str:
        """Changes when the footage changes (path, sizes and modification times)."""
        h = hashlib.sha256(str(self.path.resolve()).encode())
        for p in self.images or (self.path,):
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
        return h.hexdigest()

    def frames(self, *, stride: int = 1) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_index, gray (H, W) uint8)`` for every ``stride``-th frame.

        Raises InputError if an image cannot be read or has another size than the first.
        """
        if stride < 1:
            raise InputError(f"frame stride must be ≥ 1, found {stride}")
        if self.images:
            yield from self._image_frames(stride)
        else:
            yield from self._video_frames(stride)

    def _image_frames(self, stride: int) -> Iterator[tuple[int, np.ndarray]]:
        for i in range(0, len(self.images), stride):
            img = _read_image(self.camera, self.images[i])
            size = (img.shape[1], img.shape[0])
            if size != self.size:
                raise InputError(
                    f"camera {self.camera!r}: image {self.images[i]} is {size[0]}×{size[1]} but "
                    f"{self.images[0].name} is {self.size[0]}×{self.size[1]}; every image of a "
                    "camera must have the same size — remove or re-export the odd ones"
                )
            yield i, img

    def _video_frames(self, stride: int) -> Iterator[tuple[int, np.ndarray]]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise _unreadable(self.camera, self.path)
            i = 0
            while True:
                if i % stride:
                    if not cap.grab():
                        break
                else:
                    ok, frame = cap.read()
                    if not ok:
                        break
                    yield i, _gray(frame)
                i += 1
            if i == 0:
                raise _unreadable(self.camera, self.path)
        finally:
            cap.release()


def _unreadable(camera: str, path: Path) -> InputError:
    return InputError(
        f"camera {camera!r}: cannot read video {path} (OpenCV could not decode a single "
        "frame: the file is corrupted, truncated or in a codec this OpenCV lacks); re-export "
        "it (e.g. `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`) or give a folder of "
        "images instead"
    )


def _gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def _read_image(camera: str, path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(
            f"camera {camera!r}: cannot read image {path} (corrupted or not an image); "
            "remove it from the folder or replace it"
        )
    if img.dtype != np.uint8:  # 16-bit sensors: keep the top 8 bits of the used range
        top = float(img.max()) or 1.0
        img = np.clip(img.astype(np.float64) * (255.0 / top), 0, 255).astype(np.uint8)
    return _gray(img)


def open_footage(camera: str, path: str | Path) -> Footage:
    """Open a video file or an image folder as ``camera``'s footage.

    Raises
    ------
    InputError
        The path does not exist, is neither a video nor a folder of images, the video cannot
        be decoded or the folder holds no images.
    """
    import cv2

    path = Path(path)
    if path.is_dir():
        images = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
            key=lambda p: natural_key(p.name),
        )
        if not images:
            raise InputError(
                f"camera {camera!r}: folder {path} holds no images "
                f"({', '.join(IMAGE_SUFFIXES)}); give a folder of board images or a video"
            )
        first = _read_image(camera, images[0])
        return Footage(camera, path, tuple(images), len(images), (first.shape[1], first.shape[0]))
    if not path.is_file():
        raise InputError(
            f"camera {camera!r}: footage {path} does not exist; give a video file "
            f"({', '.join(VIDEO_SUFFIXES)}) or a folder of images"
        )
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(
            f"camera {camera!r}: {path} is a single image; give the folder that holds the "
            "camera's board images, or a video"
        )
    cap = cv2.VideoCapture(str(path))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or frame is None:
            raise _unreadable(camera, path)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    return Footage(camera, path, (), max(n, 1), (frame.shape[1], frame.shape[0]))
