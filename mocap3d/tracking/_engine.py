"""Running DeepLabCut quietly, offline and on a fixed number of threads.

DeepLabCut prints to stdout, logs epochs on the root logger and tries to download backbone
weights; mocap3d's library never prints and never downloads. Everything that touches
DeepLabCut or torch goes through :func:`dlc_session`, which

- sets ``HF_HUB_OFFLINE=1`` so a forgotten download fails at once instead of hanging,
- sets torch's thread count explicitly (processes that each take every core slow each
  other down),
- sends DeepLabCut's ``print`` output and warnings to this module's logger at DEBUG level,
- optionally turns DeepLabCut's "Epoch e/E" log lines into progress callbacks.

torch and deeplabcut are imported inside functions only.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from mocap3d.errors import InputError

log = logging.getLogger(__name__)

_EPOCH = re.compile(r"^Epoch (\d+)/(\d+)")
_METRIC = re.compile(r"^\s*metrics/(\S+?):\s*(\S+)")
INSTALL_HINT = "install the DeepLabCut extra: pip install 'mocap3d[dlc]'"


def import_deeplabcut() -> ModuleType:
    """Import DeepLabCut (PyTorch engine) offline, or say how to install it."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        with _quiet():
            import deeplabcut
    except ImportError as exc:
        raise InputError(f"DeepLabCut is not importable ({exc}); {INSTALL_HINT}") from None
    return deeplabcut


def import_torch() -> ModuleType:
    try:
        import torch
    except ImportError as exc:
        raise InputError(f"torch is not importable ({exc}); {INSTALL_HINT}") from None
    return torch


def default_threads() -> int:
    """Threads for torch: ``$OMP_NUM_THREADS`` if set, else the number of usable cores."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class _LogWriter(io.TextIOBase):
    """A file-like object that forwards whole lines to a logger (for ``print``)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            if line.strip():
                self._logger.debug("deeplabcut: %s", line.rstrip())
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            self._logger.debug("deeplabcut: %s", self._buffer.rstrip())
        self._buffer = ""


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    writer = _LogWriter(log)
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(writer),
    ):
        # DeepLabCut and its dependencies emit deprecation and user warnings we cannot fix;
        # they are logged at DEBUG level rather than shown (or raised under -W error).
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            writer.flush()


class _EpochHandler(logging.Handler):
    """Turns DeepLabCut's root-logger training lines into progress and metric records."""

    def __init__(self, on_epoch: Callable[[int, int], None]) -> None:
        super().__init__(logging.INFO)
        self._on_epoch = on_epoch
        self.metrics: dict[int, dict[str, float]] = {}
        self._epoch = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except (TypeError, ValueError):
            return
        if record.name == "root":
            log.debug("deeplabcut: %s", msg)
        m = _EPOCH.match(msg)
        if m:
            self._epoch = int(m.group(1))
            self._on_epoch(self._epoch, int(m.group(2)))
            return
        m = _METRIC.match(msg)
        if m:
            with contextlib.suppress(ValueError):
                self.metrics.setdefault(self._epoch, {})[m.group(1)] = float(m.group(2))


@contextlib.contextmanager
def dlc_session(
    *,
    threads: int | None = None,
    on_epoch: Callable[[int, int], None] | None = None,
    log_file: Path | None = None,
) -> Iterator[dict[int, dict[str, float]]]:
    """Run DeepLabCut offline, quietly, on ``threads`` torch threads.

    Yields a dict that fills with the evaluation metrics DeepLabCut logs while training,
    ``{epoch: {"test.rmse": px, ...}}``; ``log_file`` (e.g. DeepLabCut's ``train.txt``) gets
    DeepLabCut's INFO log. Thread count, the root logger's level, handlers and handler
    levels are restored afterwards.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    torch = import_torch()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads or default_threads())
    root = logging.getLogger()
    old_root_level = root.level
    old_handlers = list(root.handlers)
    old_handler_levels = [(h, h.level) for h in root.handlers]
    handler = _EpochHandler(on_epoch or (lambda e, n: None))
    file_handler = None
    if log_file is not None:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.INFO)
        file_handler.setFormatter(logging.Formatter("%(asctime)-15s %(message)s"))
    # DeepLabCut logs epochs at INFO on the root logger: let INFO through to our handler
    # only, keeping every existing handler at the level it showed before.
    effective = root.getEffectiveLevel()
    for h, level in old_handler_levels:
        h.setLevel(max(level, effective))
    root.setLevel(min(effective, logging.INFO))
    root.addHandler(handler)
    if file_handler is not None:
        root.addHandler(file_handler)
    try:
        with _quiet():
            yield handler.metrics
    finally:
        if file_handler is not None:
            file_handler.close()
        root.handlers[:] = old_handlers
        root.setLevel(old_root_level)
        for h, level in old_handler_levels:
            h.setLevel(level)
        torch.set_num_threads(old_threads)


def torch_load(path: Any) -> Any:
    """``torch.load`` on CPU of a weights file we or the user made (weights only)."""
    import pickle

    torch = import_torch()
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise InputError(
            f"weights file {path} is not a readable PyTorch file "
            f"({str(exc).splitlines()[0][:200]}); give a .pt file "
            "saved with torch.save (a DeepLabCut snapshot or a backbone state_dict)"
        ) from None
