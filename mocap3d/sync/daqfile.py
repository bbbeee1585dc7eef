"""TTL edges read from a raw DAQ file, block by block (hour-long files fit in memory).

Channels are found by name in any stream of the file; each stream is read once per pass, all
its requested channels together. Automatic thresholds need the channel's two levels first: a
short file is read once, a long one twice (a strided sample for the levels, then the edges).
Times are seconds on the master clock (``t0_s + sample / rate_hz`` of the channel's stream).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mocap3d.errors import InputError
from mocap3d.io.rawdaq import read_raw_daq_info, read_stream
from mocap3d.progress import Progress, report
from mocap3d.sync.edges import Edges, EdgeScanner, Levels, thresholds, ttl_levels

BLOCK = 1 << 21  # samples per read (~105 s at 20 kHz)


def read_edges(
    path: str | Path,
    channels: Sequence[str],
    *,
    levels: Mapping[str, tuple[float, float]] | None = None,
    block_samples: int = BLOCK,
    progress: Progress | None = None,
) -> dict[str, Edges]:
    """Detect the edges of TTL channels of a raw DAQ file.

    Parameters
    ----------
    path : path-like
        Raw DAQ file (:mod:`mocap3d.io.rawdaq`).
    channels : sequence of str
        Channel names (any stream).
    levels : mapping of channel to (low, high), optional
        Explicit hysteresis thresholds (physical units) for some channels; the others get
        automatic thresholds from their levels.
    block_samples : int
        Samples read at a time.

    Returns
    -------
    dict of channel name to Edges

    Raises
    ------
    InputError
        A channel missing from the file (the message lists those it has), an empty stream, or
        a channel without pulses.
    """
    path = Path(path)
    info = read_raw_daq_info(path)
    levels = dict(levels or {})
    by_stream: dict[str, list[str]] = {}
    for ch in dict.fromkeys(channels):
        by_stream.setdefault(info.stream_of(ch).name, []).append(ch)
    out: dict[str, Edges] = {}
    for stream, names in by_stream.items():
        s = info.streams[stream]
        if s.n_samples == 0:
            raise InputError(f"{path}: stream {stream!r} has no samples; was anything recorded?")
        n_blocks = -(-s.n_samples // block_samples)
        lv: dict[str, Levels] = {}
        for ch in names:
            if ch in levels:
                lo, hi = levels[ch]
                lv[ch] = thresholds(lo, hi)
        auto = [c for c in names if c not in lv]
        cached = None
        if auto:
            if n_blocks == 1:
                cached = read_stream(path, stream, channels=names).values
                sample = {c: cached[:, names.index(c)] for c in auto}
            else:
                sample = _strided_sample(path, stream, auto, s.n_samples, block_samples)
            for c in auto:
                lv[c] = ttl_levels(sample[c], name=f"{path.name}: channel {c!r}")
        scanners = {c: EdgeScanner(lv[c]) for c in names}
        for b in range(n_blocks):
            start = b * block_samples
            if cached is not None:
                data = cached
            else:
                data = read_stream(
                    path, stream, channels=names, start=start, stop=start + block_samples
                ).values
            for i, c in enumerate(names):
                scanners[c].feed(np.ascontiguousarray(data[:, i]))
            report(progress, b + 1, n_blocks, f"edges {stream}")
        for c in names:
            rising, falling = scanners[c].result()
            out[c] = Edges(
                s.t0_s + rising / s.rate_hz,
                s.t0_s + falling / s.rate_hz,
                lv[c],
                s.rate_hz,
                s.t0_s,
                c,
            )
    return {c: out[c] for c in channels}


def _strided_sample(
    path: Path, stream: str, names: list[str], n: int, block: int
) -> dict[str, np.ndarray]:
    """About 500 000 random samples of each channel (for level estimation).

    Random, not strided: a stride can alias with a pulse train and see only one level.
    """
    rng = np.random.default_rng(0)
    parts: dict[str, list[np.ndarray]] = {c: [] for c in names}
    for start in range(0, n, block):
        data = read_stream(path, stream, channels=names, start=start, stop=start + block).values
        pick = rng.integers(0, len(data), max(1, int(500_000 * len(data) / n)))
        for i, c in enumerate(names):
            parts[c].append(data[pick, i])
    return {c: np.concatenate(p) for c, p in parts.items()}
