"""Benchmarks (not tests). Entry point: bench/run.py (``make bench``)."""
