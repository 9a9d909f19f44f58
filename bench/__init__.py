"""Benchmarks of Tradepit, run in process with ``python -m bench`` (or ``make bench``).

Each measurement is printed next to a baseline taken in the same run, so the ratios stay
meaningful on any machine.
"""
