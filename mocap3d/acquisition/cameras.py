"""Hardware-triggered cameras: arm, take one frame per trigger, write video + frame log.

A camera backend implements :class:`TriggeredCamera`: ``arm`` puts it in external-trigger
mode, ``grab`` returns the next frame (with the camera's own frame counter and timestamp) or
``None`` if no trigger came, ``disarm`` ends. :class:`CameraRecording` runs one camera in a
thread and writes ``<camera>.mp4`` plus ``<camera>.frames.csv`` (:mod:`mocap3d.io.frames`:
counters and timestamps, one row per frame in the video; counter gaps are dropped frames).

Backends here: :class:`SimCamera` (frames rendered at each trigger of a simulated DAQ) and
:class:`VideoFileCamera` (frames of an existing video, one per trigger). A vendor SDK
(Basler pypylon, FLIR Spinnaker …) plugs in the same way without being a dependency of
mocap3d: write a class with ``name``, ``arm``, ``grab``, ``disarm`` that imports the SDK
inside its methods, and name it to :func:`make_camera` as ``"package.module:Class"`` or
through the ``mocap3d.camera_backends`` entry-point group (see
``docs/acquisition.md`` for a pypylon example: trigger on Line1, exposure-active out on Line2,
counter from the chunk frame counter, timestamp from the camera's tick clock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mocap3d.acquisition.daq import AcquisitionError
from mocap3d.io.frames import FrameLog, frames_path, write_frame_log

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    """One frame as the camera delivered it.

    ``image`` is (height, width) or (height, width, 3) uint8; ``counter`` the camera's frame
    counter; ``timestamp_s`` its clock in seconds (NaN if it has none).
    """

    counter: int
    timestamp_s: float
    image: np.ndarray


class TriggeredCamera(Protocol):
    """A camera that takes one frame per external trigger pulse."""

    name: str

    def arm(self, *, fps: float) -> None:
        """Configure the external trigger (expected rate ``fps``) and wait for pulses."""
        ...

    def grab(self, timeout_s: float) -> Frame | None:
        """The next frame, or None if none arrived within ``timeout_s``."""
        ...

    def disarm(self) -> None: ...


ENTRY_POINT_GROUP = "mocap3d.camera_backends"


def make_camera(backend: str, name: str, **options: Any) -> TriggeredCamera:
    """A camera of backend ``backend``, called ``name``.

    ``backend`` is ``"sim"``, ``"video"``, the name of an entry point in the group
    ``mocap3d.camera_backends`` (how a vendor plug-in package registers itself), or
    ``"package.module:Class"``. ``options`` go to the backend's constructor.
    """
    import importlib
    from importlib.metadata import entry_points

    builtin: dict[str, Callable[..., TriggeredCamera]] = {
        "sim": SimCamera,
        "video": VideoFileCamera,
    }
    if backend in builtin:
        return builtin[backend](name, **options)
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if backend in found:
        return found[backend].load()(name, **options)
    if ":" in backend:
        module, _, attr = backend.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise AcquisitionError(f"camera backend {backend!r} cannot be loaded: {exc}") from None
        return factory(name, **options)
    raise AcquisitionError(
        f"unknown camera backend {backend!r}; known: {sorted(builtin) + sorted(found)}, or "
        "'package.module:Class' (see docs/acquisition.md, 'Camera backends')"
    )


# ------------------------------------------------------------------------------ writing


class FrameWriter:
    """Write frames to ``video`` and, at :meth:`close`, their log to ``<camera>.frames.csv``."""

    def __init__(self, video: str | Path, fps: float, *, fourcc: str = "mp4v") -> None:
        self.video = Path(video)
        self.fps = fps
        self.fourcc = fourcc
        self._writer: Any = None
        self._counters: list[int] = []
        self._times: list[float] = []
        if self.video.exists():
            raise AcquisitionError(f"{self.video} already exists; raw videos are never overwritten")

    def write(self, frame: Frame) -> None:
        import cv2

        img = frame.image
        if self._writer is None:
            self.video.parent.mkdir(parents=True, exist_ok=True)
            h, w = img.shape[:2]
            self._writer = cv2.VideoWriter(
                str(self.video),
                cv2.VideoWriter.fourcc(*self.fourcc),
                self.fps,
                (w, h),
                img.ndim == 3,
            )
            if not self._writer.isOpened():
                raise AcquisitionError(
                    f"cannot write {self.video} with codec {self.fourcc!r} (OpenCV); try "
                    "another fourcc or a .avi file"
                )
        self._writer.write(img)
        self._counters.append(int(frame.counter))
        self._times.append(float(frame.timestamp_s))

    def close(self) -> FrameLog:
        """Finish the video and write the frame log (atomically)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        frame_log = FrameLog(np.array(self._counters, np.int64), np.array(self._times, float))
        if len(frame_log):
            write_frame_log(frames_path(self.video), frame_log)
        return frame_log


@dataclass(frozen=True)
class CameraResult:
    """What one camera recorded."""

    name: str
    video: Path
    n_frames: int
    dropped: int  # frames missing from the counter sequence
    error: str = ""


class CameraRecording:
    """Run one camera in a thread: arm, write every frame it delivers, disarm on :meth:`stop`."""

    def __init__(self, camera: TriggeredCamera, video: str | Path, fps: float) -> None:
        self.camera = camera
        self.writer = FrameWriter(video, fps)
        self.fps = fps
        self.n_frames = 0
        self._stop = threading.Event()
        self._error = ""
        self._thread = threading.Thread(target=self._run, name=f"camera-{camera.name}")

    def start(self) -> None:
        self.camera.arm(fps=self.fps)
        self._thread.start()

    def _run(self) -> None:
        try:
            idle = 0
            while True:
                frame = self.camera.grab(0.05)
                if frame is None:
                    idle += 1
                    if self._stop.is_set() and idle >= 2:  # no trigger for 0.1 s after stop
                        return
                    continue
                idle = 0
                self.writer.write(frame)
                self.n_frames += 1
        except Exception as exc:
            log.exception("camera %s failed", self.camera.name)
            self._error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> CameraResult:
        """Wait for the last triggered frames, disarm and close the files."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.camera.disarm()
        frame_log = self.writer.close()
        c = frame_log.counter
        dropped = int((c[-1] - c[0] + 1) - len(c)) if len(c) else 0
        return CameraResult(self.camera.name, self.writer.video, len(c), dropped, self._error)


# ------------------------------------------------------------------------------ backends


def code_image(k: int, size: tuple[int, int], *, bits: int = 20) -> np.ndarray:
    """A grey test frame whose top band encodes ``k`` in ``bits`` black/white blocks.

    Robust to video compression (blocks are ``width // bits`` px wide); see :func:`read_code`.
    """
    w, h = size
    img = np.full((h, w), 96, np.uint8)
    bw = w // bits
    for b in range(bits):
        img[: h // 4, b * bw : (b + 1) * bw] = 255 if (k >> b) & 1 else 0
    x = int((k * 7) % max(1, w - 8))
    img[h // 2 :, x : x + 8] = 200  # a moving bar, so frames differ below the code
    return img


def read_code(image: np.ndarray, *, bits: int = 20) -> int:
    """Decode :func:`code_image`'s number from a (possibly compressed) frame."""
    grey = image if image.ndim == 2 else image.mean(axis=2)
    h, w = grey.shape
    bw = w // bits
    band = grey[2 : max(3, h // 4 - 2)]
    return sum(1 << b for b in range(bits) if band[:, b * bw + 2 : (b + 1) * bw - 2].mean() > 128)


class SimCamera:
    """A simulated camera: frame ``k`` exists once trigger ``k`` has been emitted.

    Parameters
    ----------
    name : str
    trigger_count : callable
        Number of trigger pulses emitted so far (e.g. from the simulated DAQ's clock).
    size : (width, height)
    render : callable, optional
        ``render(k)`` → image of frame ``k``; default :func:`code_image`.
    drop : set of int
        Trigger indices whose frames the camera "drops" (its counter still advances).
    counter_offset : int
        The camera's counter value at the first trigger.
    clock_drift_ppm : float
        The camera clock's rate error (timestamps ``k / fps · (1 + drift)``).
    """

    def __init__(
        self,
        name: str,
        *,
        trigger_count: Callable[[], int],
        size: tuple[int, int] = (320, 256),
        render: Callable[[int], np.ndarray] | None = None,
        drop: frozenset[int] | set[int] = frozenset(),
        counter_offset: int = 0,
        clock_drift_ppm: float = 0.0,
    ) -> None:
        self.name = name
        self.trigger_count = trigger_count
        self.size = size
        self.render = render or (lambda k: code_image(k, size))
        self.drop = frozenset(drop)
        self.counter_offset = counter_offset
        self.drift = clock_drift_ppm * 1e-6
        self.fps = 0.0
        self._next = 0
        self.armed = False

    def arm(self, *, fps: float) -> None:
        self.fps, self._next, self.armed = fps, 0, True

    def grab(self, timeout_s: float) -> Frame | None:
        deadline = time.monotonic() + timeout_s
        while self.armed:
            while self._next < self.trigger_count():
                k = self._next
                self._next += 1
                if k not in self.drop:
                    t = k / self.fps * (1 + self.drift)
                    return Frame(k + self.counter_offset, t, self.render(k))
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.002)
        return None

    def disarm(self) -> None:
        self.armed = False


class VideoFileCamera:
    """Frames of an existing video, one per trigger (footage replayed as if filmed now).

    The counter is the frame index in the file, the timestamp its presentation time. With no
    ``trigger_count`` every frame is available at once.
    """

    def __init__(
        self, name: str, video: str | Path, *, trigger_count: Callable[[], int] | None = None
    ) -> None:
        self.name = name
        self.video = Path(video)
        if not self.video.is_file():
            raise AcquisitionError(f"camera {name!r}: video {self.video} does not exist")
        self.trigger_count = trigger_count
        self._cap: Any = None
        self._next = 0

    def arm(self, *, fps: float) -> None:
        import cv2

        self._cap = cv2.VideoCapture(str(self.video))
        if not self._cap.isOpened():
            raise AcquisitionError(f"camera {self.name!r}: OpenCV cannot read {self.video}")
        self._next = 0

    def grab(self, timeout_s: float) -> Frame | None:
        if self._cap is None:
            return None
        deadline = time.monotonic() + timeout_s
        while self.trigger_count is not None and self._next >= self.trigger_count():
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.002)
        ok, img = self._cap.read()
        if not ok:
            return None
        t_ms = self._cap.get(0)  # cv2.CAP_PROP_POS_MSEC: the frame just read
        k = self._next
        self._next += 1
        return Frame(k, t_ms / 1000.0, img)

    def disarm(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
