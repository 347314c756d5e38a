"""The run report: one self-contained HTML file built from what the run folder holds."""

from deepworks.report.build import write_report

__all__ = ["write_report"]
