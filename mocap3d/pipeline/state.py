"""What the pipeline has done in a project: ``PROJECT/outputs/pipeline/state.json``.

One entry per finished step (``track/mouse01/trial_001/side_left``): the key of its inputs and
settings and the files it wrote. The file is rewritten atomically at most every
:data:`SAVE_EVERY_S` seconds while steps finish, and whenever a run ends (also by an exception
or Ctrl-C), so an interrupted run resumes where it stopped; only a killed process loses the
last seconds' records (those steps run again). Rewriting it after each of thousands of steps
would rewrite the whole file thousands of times. Deleting it makes the next run redo
everything.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mocap3d.io.atomic import write_text_atomic

log = logging.getLogger(__name__)

STATE_VERSION = 1
SAVE_EVERY_S = 2.0


@dataclass
class PipelineState:
    """Finished steps and file digests of a project."""

    path: Path
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, list[Any]] = field(default_factory=dict)
    _saved_at: float = field(default=-float("inf"), repr=False)

    @classmethod
    def load(cls, path: str | Path) -> PipelineState:
        """Read the state; a missing or unreadable file is an empty state (logged)."""
        p = Path(path)
        if not p.is_file():
            return cls(p)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            return cls(p, dict(data["steps"]), dict(data.get("files", {})))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("pipeline state %s unreadable (%s): every step runs again", p, exc)
            return cls(p)

    def is_done(self, step: str, key: str) -> bool:
        """The step finished with these inputs and its files are all still there."""
        entry = self.steps.get(step)
        if entry is None or entry.get("key") != key:
            return False
        return all(Path(f).exists() for f in entry.get("outputs", []))

    def record(self, step: str, key: str, outputs: Sequence[str | Path], **info: Any) -> None:
        """Mark a step done (saved within :data:`SAVE_EVERY_S` seconds, see :meth:`save`)."""
        self.steps[step] = {
            "key": key,
            "outputs": [str(o) for o in outputs],
            "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            **info,
        }
        if time.monotonic() - self._saved_at >= SAVE_EVERY_S:
            self.save()

    def save(self) -> None:
        """Write the state now (atomically)."""
        self._saved_at = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": STATE_VERSION, "steps": self.steps, "files": self.files}
        write_text_atomic(self.path, json.dumps(doc, indent=1, sort_keys=True))
