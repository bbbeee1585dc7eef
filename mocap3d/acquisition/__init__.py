"""Acquisition: record synchronised sessions (DAQ, camera triggers, sync box, cameras).

- :mod:`~mocap3d.acquisition.daq` — the DAQ backend protocol and its settings from a rig;
- :mod:`~mocap3d.acquisition.nidaq` — NI DAQs through ``nidaqmx`` (imported only there);
- :mod:`~mocap3d.acquisition.simdaq` — simulated streams, in real time or faster;
- :mod:`~mocap3d.acquisition.syncbox` — the serial sync box (and its emulator);
- :mod:`~mocap3d.acquisition.recorder` — blocks → raw HDF5 file, live status, recovery;
- :mod:`~mocap3d.acquisition.cameras` — hardware-triggered cameras → videos + frame logs.
"""
