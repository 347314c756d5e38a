"""Metrics shared by training and evaluation: streaming evaluation, ROC AUC, calibration."""
