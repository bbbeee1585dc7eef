"""Outputs people use: figures, overlay videos and HTML reports (see docs/outputs.md).

:mod:`~mocap3d.report.build` writes a project's outputs; :mod:`~mocap3d.report.content` gathers
what the project holds; :mod:`~mocap3d.report.figures`, :mod:`~mocap3d.report.overlay`,
:mod:`~mocap3d.report.skeleton_view` and :mod:`~mocap3d.report.html` make the pieces.
"""
