"""Acquisition: record synchronised sessions (DAQ, camera triggers, sync box, cameras).

- :mod:`~mocap3d.acquisition.daq` — the DAQ backend protocol and its settings from a rig;
- :mod:`~mocap3d.acquisition.nidaq` — NI DAQs through ``nidaqmx`` (imported only there);
- :mod:`~mocap3d.acquisition.simdaq` — simulated streams, in real time or faster;
- :mod:`~mocap3d.acquisition.syncbox` — the serial sync box client;
  :mod:`~mocap3d.acquisition.syncbox_emulator` — the box emulated on a pty, socket or loop;
- :mod:`~mocap3d.acquisition.recorder` — runs a recording: blocks → raw HDF5 file
  (:mod:`~mocap3d.acquisition.blockwriter`), live status and manifest
  (:mod:`~mocap3d.acquisition.status`);
- :mod:`~mocap3d.acquisition.recovery` — closes out the file of a crashed recording;
- :mod:`~mocap3d.acquisition.cameras` — hardware-triggered cameras → videos + frame logs;
- :mod:`~mocap3d.acquisition.session` — wires all of it for ``mocap3d record``.

See ``docs/acquisition.md``.
"""
