"""Synchronisation: every video frame and every DAQ sample on the DAQ master clock.

- :mod:`~mocap3d.sync.edges` — TTL edges (hysteresis, sub-sample times), bursts
- :mod:`~mocap3d.sync.pulses` — exposure pulse trains: trigger grid, extra and missing pulses
- :mod:`~mocap3d.sync.frames` — video frames ↔ trigger slots (frame logs, dropped frames)
- :mod:`~mocap3d.sync.tracks` — 2D tracks placed at their true times
- :mod:`~mocap3d.sync.clock` — independent clocks: offset + drift from shared edges
- :mod:`~mocap3d.sync.barcode` — random-interval barcodes: generation, decoding, matching
- :mod:`~mocap3d.sync.align` — streams on common time bases; trials cut by events
- :mod:`~mocap3d.sync.report` — drops, clock residuals (µs), figure, JSON
- :mod:`~mocap3d.sync.session` / :mod:`~mocap3d.sync.store` — a whole recording, and the
  session file
"""

from mocap3d.sync.align import align, cut_trials, resample, signal_events, windows_from_bursts
from mocap3d.sync.barcode import make_barcode, match_barcode, render_ttl
from mocap3d.sync.clock import ClockFit, fit_clock, pair_edges
from mocap3d.sync.edges import Edges, detect_edges, split_bursts, ttl_levels
from mocap3d.sync.frames import FrameMap, count_video_frames, map_frames
from mocap3d.sync.pulses import PulseTrain, clean_pulses
from mocap3d.sync.tracks import place_tracks

__all__ = [
    "ClockFit",
    "Edges",
    "FrameMap",
    "PulseTrain",
    "align",
    "clean_pulses",
    "count_video_frames",
    "cut_trials",
    "detect_edges",
    "fit_clock",
    "make_barcode",
    "map_frames",
    "match_barcode",
    "pair_edges",
    "place_tracks",
    "render_ttl",
    "resample",
    "signal_events",
    "split_bursts",
    "ttl_levels",
    "windows_from_bursts",
]
