"""Runs: the run folder and the SQLite index of runs."""
