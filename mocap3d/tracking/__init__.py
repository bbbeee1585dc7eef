"""2D tracking with DeepLabCut: projects from the rig, frames to label, training, inference,
evaluation and 2D filters.

The only part of mocap3d that needs torch and DeepLabCut (the ``dlc`` extra); they are
imported inside the functions that use them, so importing this package is cheap. Modules:

- :mod:`~mocap3d.tracking.project` — one DeepLabCut project per camera (or shared) in a
  mocap3d project, the trial split; :mod:`~mocap3d.tracking.dlcproject` — DeepLabCut folders.
- :mod:`~mocap3d.tracking.frames` — frames to label (k-means + rare-pose quota);
  :mod:`~mocap3d.tracking.labels` — image splits, importing labels.
- :mod:`~mocap3d.tracking.train` — offline training; :mod:`~mocap3d.tracking.model` — trained
  models; :mod:`~mocap3d.tracking.workflow` — every model of a project, with a cache.
- :mod:`~mocap3d.tracking.infer` / :mod:`~mocap3d.tracking.analyze` — inference on videos,
  resumable analysis of a project's trials, tracks → poses2d.
- :mod:`~mocap3d.tracking.metrics`, :mod:`~mocap3d.tracking.evaluate`,
  :mod:`~mocap3d.tracking.report` — MAE / PCK / swaps / misses / jitter, learning curves,
  tables and figures.
- :mod:`~mocap3d.tracking.filters` — median, confidence, jump + gap interpolation,
  left/right swap correction.
"""
