"""Content hashes of a pipeline step's inputs and settings.

A step is run again only when the key of its inputs changed: the sha256 of every input file's
bytes and of its settings. Hashing a file is remembered by (size, mtime) in the pipeline state,
so unchanged videos are not read again on the next run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any

FileCache = MutableMapping[str, list[Any]]
"""path → [size, mtime_ns, sha256]: digests already computed."""


def file_digest(path: str | Path, cache: FileCache | None = None) -> str:
    """sha256 of a file's content (hex); ``"missing"`` if it does not exist."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        return "missing"
    stamp = [st.st_size, st.st_mtime_ns]
    key = str(p.resolve())
    if cache is not None:
        hit = cache.get(key)
        if hit is not None and hit[:2] == stamp:
            return str(hit[2])
    with p.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    if cache is not None:
        cache[key] = [*stamp, digest]
    return digest


def files_digest(paths: Iterable[str | Path], cache: FileCache | None = None) -> dict[str, str]:
    """Digest of each file (directories: every file below them, recursively)."""
    out: dict[str, str] = {}
    for path in paths:
        p = Path(path)
        if p.is_dir():
            for f in sorted(q for q in p.rglob("*") if q.is_file()):
                out[str(f)] = file_digest(f, cache)
        else:
            out[str(p)] = file_digest(p, cache)
    return out


def task_key(*parts: Any) -> str:
    """sha256 of JSON-serialisable parts (settings, input digests, upstream keys)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
