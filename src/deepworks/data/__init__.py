"""Data: sources by registered name, splits, encoders and the DataBundle."""

from deepworks.data.bundle import DataBundle, build_bundle, load_data
from deepworks.data.schema import Schema
from deepworks.data.sources import DATASETS, register_dataset

__all__ = ["DATASETS", "DataBundle", "Schema", "build_bundle", "load_data", "register_dataset"]
