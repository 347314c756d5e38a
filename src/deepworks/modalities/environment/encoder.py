"""An environment's encoder: observations in, as the policy reads them.

Its state is what the agent knows of the environment — the Gymnasium id and the spaces — so a
finished run can play new episodes, answer a served observation with an action, or be judged
again (`deepworks evaluate RUN --episodes N`) without the config.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from deepworks.core.encoder import Encoder, RequestFormat
from deepworks.core.errors import DataError
from deepworks.core.lazy import lazy_module
from deepworks.data.encoders import register_encoder
from deepworks.data.tables import read_table

pd = lazy_module("pandas")  # imported on first use: most runs read no table


@register_encoder("environment")
@dataclass
class EnvironmentEncoder(Encoder):
    environment: str
    observation_shape: list[int]
    actions: int | None = None  # discrete: how many; None: continuous within the bounds
    action_low: list[float] = field(default_factory=list)
    action_high: list[float] = field(default_factory=list)
    max_steps: int | None = None
    game: bool = False  # a board game played against someone (`deepworks play`)
    kind: str = "environment"

    request: ClassVar[RequestFormat] = RequestFormat(
        many="observations",
        one="observation",
        item=list,
        help='{"observation": [numbers]}; batch: {"observations": [[numbers], ...]}',
    )
    inputs: ClassVar[str] = "table"

    @property
    def width(self) -> int:
        return math.prod(self.observation_shape)

    def observations(self, inputs: Any) -> np.ndarray:
        """Observations from a table file, a frame, arrays or lists of numbers, checked."""
        if isinstance(inputs, str | Path):
            inputs = read_table(Path(inputs))
        where = str(inputs) if isinstance(inputs, str | Path) else "the observations"
        if isinstance(inputs, pd.DataFrame):
            inputs = inputs.select_dtypes("number").to_numpy()
        try:
            array = np.asarray(inputs, dtype=np.float32)
        except (TypeError, ValueError):
            raise DataError(f"{where}: every observation must be a list of numbers") from None
        array = array.reshape(1, -1) if array.ndim == 1 else array.reshape(len(array), -1)
        if array.shape[1] != self.width:
            raise DataError(
                f"{where}: an observation of {self.environment} has {self.width} numbers, "
                f"these have {array.shape[1]}"
            )
        if not np.isfinite(array).all():
            row = int(np.flatnonzero(~np.isfinite(array).all(1))[0])
            raise DataError(f"{where}: observation {row + 1} holds NaN or inf")
        return array.reshape(len(array), *self.observation_shape)

    def batches(self, inputs: Any, size: int, schema: Any) -> tuple[list[Any], Iterator[Any]]:
        obs = torch.from_numpy(self.observations(inputs))
        return list(range(len(obs))), iter(obs.split(size))

    def request_inputs(self, items: list[Any]) -> Any:
        return self.observations(items)
