"""The experiment schema: one pydantic model, loaded from YAML, exported as JSON Schema.

Every section forbids unknown keys, so a typo is an error that names the field and suggests the
fix. Names that point into a registry (dataset, model, task, optimizer, scheduler) are checked
at load time, rather than minutes into a run, by whoever loads the config with the registries
at hand (``catalog.load_config``): this module imports only the core, so the schema never
depends on what it names.
"""

from deepworks.config.base import Registries
from deepworks.config.data import (
    AugmentConfig,
    DataConfig,
    RatingsConfig,
    SeriesConfig,
    SplitConfig,
    TokenizerConfig,
)
from deepworks.config.experiment import (
    DeployConfig,
    DistillConfig,
    EarlyStoppingConfig,
    EvaluateConfig,
    ExperimentConfig,
    ModelConfig,
    OptimizerConfig,
    SchedulerConfig,
    TrainConfig,
)
from deepworks.config.loading import (
    apply_overrides,
    format_validation_error,
    json_schema,
    load_config,
    parse_override,
)

__all__ = [
    "AugmentConfig",
    "DataConfig",
    "DeployConfig",
    "DistillConfig",
    "EarlyStoppingConfig",
    "EvaluateConfig",
    "ExperimentConfig",
    "ModelConfig",
    "OptimizerConfig",
    "RatingsConfig",
    "Registries",
    "SchedulerConfig",
    "SeriesConfig",
    "SplitConfig",
    "TokenizerConfig",
    "TrainConfig",
    "apply_overrides",
    "format_validation_error",
    "json_schema",
    "load_config",
    "parse_override",
]
