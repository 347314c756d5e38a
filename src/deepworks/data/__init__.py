"""Data: sources by registered name, splits, encoders and the DataBundle."""

from deepworks.data.bundle import DataBundle, build_bundle
from deepworks.data.sources import DATASETS, register_dataset

__all__ = ["DATASETS", "DataBundle", "build_bundle", "register_dataset"]
