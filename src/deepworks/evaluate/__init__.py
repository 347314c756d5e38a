"""Evaluation: streaming metrics, plots."""
