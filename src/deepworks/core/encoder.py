"""The Encoder contract: how one kind of data becomes model tensors, and back from a request.

An encoder is fit on the training split and saved as JSON with the run (``to_dict``), so a
reloaded run encodes new inputs exactly as it encoded its training data. Each kind of data
(``modalities/<kind>/``) brings its own and registers it by ``kind``; prediction, evaluation on
new files and the server ask the encoder, never "which kind of data is this?".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from deepworks.core.errors import DataError

# The tokens that end a text: deepworks' own, then those of pretrained tokenizers.
END_TOKENS = ("<eos>", "[SEP]", "</s>", "<|endoftext|>")


def end_token_id(vocab: list[str]) -> int | None:
    """Where a vocabulary's end-of-text token is, if it has one."""
    return next((vocab.index(t) for t in END_TOKENS if t in vocab), None)


@dataclass(frozen=True)
class RequestFormat:
    """How `deepworks serve` receives this data's inputs."""

    many: str = "rows"  # the batch body's key: {"rows": [...]}, {"texts": [...]}
    one: str | None = None  # a key holding one input ({"text": ...}); None: the body is one
    item: type = dict  # each input is a JSON object of column values, or a string
    upload: bool = False  # inputs come as file uploads (multipart), not JSON
    grouped: bool = False  # one request's rows make one input (a series to forecast from)
    help: str = "a JSON object of column values"


ROWS = RequestFormat()


class Encoder:
    """Base of every encoder. Subclasses are dataclasses whose fields are their saved state,
    among them ``kind``, the registered name that rebuilds them."""

    request: ClassVar[RequestFormat] = ROWS
    # What the model's inputs are, for the explanation methods that fit them and the pictures
    # they make: "image" or "spectrogram" (C, H, W), "tokens" (ids), "table" (encoded
    # columns), "series" (steps × features); "" when nothing explains them.
    inputs: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Encoder:
        return cls(**state)

    def batches(self, inputs: Any, size: int, schema: Any) -> tuple[list[Any], Iterator[Any]]:
        """Raw inputs (a file, a folder, a frame, arrays, texts) → their ids and encoded
        batches of at most ``size``."""
        raise DataError(f"{type(self).__name__} cannot encode new inputs")

    def labelled(self, path: Path, schema: Any) -> Any:
        """A labelled file or folder as a dataset of (encoded inputs, targets)."""
        raise DataError(f"{type(self).__name__} cannot read labelled data from {path}")

    def novelty(self, inputs: Any) -> list[str] | None:
        """Per input, why it is unlike the training data ("" when it is not), or None when
        this kind of data has no such check."""
        return None

    def request_columns(self) -> list[str]:
        """The columns every JSON row of a request must carry."""
        return []

    def request_fields(self) -> list[dict[str, Any]]:
        """A form for one request's row (the dashboard's "try it"): per column its `name`,
        `kind` (number, choice, text), a typical `default` and, for a choice, `choices`."""
        return [{"name": c, "kind": "text", "default": ""} for c in self.request_columns()]

    def decode_upload(self, data: bytes, name: str | None) -> Any:
        """One uploaded file → an input ``request_inputs`` takes."""
        raise DataError("these inputs come as JSON, not uploads")

    def request_inputs(self, items: list[Any]) -> Any:
        """A request's decoded items → what ``batches`` takes (rows → a DataFrame)."""
        import pandas as pd

        return pd.DataFrame(items)

    def release(self, items: list[Any]) -> None:
        """Clean up after a request's items were predicted (temporary upload files)."""
