"""Readers and writers: one module per file format; heavy imports happen inside functions."""
