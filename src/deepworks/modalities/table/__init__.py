"""Tables: rows of numeric and categorical columns with a target column."""

from deepworks.modalities.table import encoder, sources  # noqa: F401  (registers them)
