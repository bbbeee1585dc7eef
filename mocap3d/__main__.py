"""``python -m mocap3d`` is the ``mocap3d`` command."""

from mocap3d.cli import main

main()
