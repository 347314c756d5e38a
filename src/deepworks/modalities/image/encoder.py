"""Images → model tensors: decoded, resized, scaled to [0, 1] and normalized per channel with
statistics of the training images."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from deepworks.core.encoder import Encoder, RequestFormat
from deepworks.core.errors import DataError
from deepworks.data.bundle import targets_for
from deepworks.data.datasets import Data, TensorData
from deepworks.data.encoders import register_encoder
from deepworks.data.folders import batched, file_paths

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
# deepworks checks every image's size against its own, configurable limit before decoding
# (`data.max_image_pixels`); Pillow's fixed limit would otherwise decide first.
Image.MAX_IMAGE_PIXELS = None


@register_encoder("image")
@dataclass
class ImageEncoder(Encoder):
    """Load an image file as a (C, H, W) float tensor in [0, 1], then normalize per channel."""

    inputs = "image"

    size: tuple[int, int]
    channels: int
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    max_pixels: int = 50_000_000  # larger images are refused before decoding
    novel: dict[str, Any] = field(default_factory=dict)  # what training images look like
    kind: str = "image"

    def read(self, path: Path | io.BytesIO, name: object = None) -> torch.Tensor:
        with self.opened(path, name) as img:
            return self.decoded(img)

    def decoded(self, img: Image.Image) -> torch.Tensor:
        """An opened image as a (C, H, W) tensor in [0, 1] at the encoder's size."""
        img = img.convert("L" if self.channels == 1 else "RGB")
        img = img.resize((self.size[1], self.size[0]), Image.Resampling.BILINEAR)
        array = np.asarray(img, dtype=np.float32) / 255.0
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(array))

    @contextlib.contextmanager
    def opened(self, path: Path | io.BytesIO, name: object = None) -> Iterator[Image.Image]:
        """The image in ``path`` (a file, or an upload's bytes), its size checked from the
        header; every way it can fail is one DataError naming it."""
        name = name or (path if isinstance(path, Path) else "the image")
        try:
            with Image.open(path) as img:
                self.check_size(img, name)
                yield img
        except DataError:
            raise
        except Image.DecompressionBombError as exc:
            raise DataError(f"{name}: refused before decoding ({exc})") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DataError(
                f"{name}: not a readable image ({exc}). Replace or remove the file."
            ) from None

    def check_size(self, img: Image.Image, name: object) -> None:
        """Refuse an image larger than ``max_pixels`` from its header, before decoding it."""
        if img.width * img.height > self.max_pixels:
            raise DataError(
                f"{name}: {img.width}×{img.height} pixels is over the limit of "
                f"{self.max_pixels:,} (`data.max_image_pixels`); shrink the image, or raise the "
                "limit if it is genuine"
            )

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if not self.mean:
            return x
        shape = (-1, 1, 1)
        mean = torch.tensor(self.mean).view(shape)
        std = torch.tensor(self.std).view(shape)
        return (x - mean) / std

    def encode_file(self, path: Path) -> torch.Tensor:
        return self.normalize(self.read(path))

    def fit_stats(self, images: torch.Tensor) -> None:
        """Per-channel mean and std from a (N, C, H, W) batch of training images."""
        self.mean = images.mean(dim=(0, 2, 3)).tolist()
        self.std = [s or 1.0 for s in images.std(dim=(0, 2, 3)).tolist()]

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ImageEncoder:
        return cls(**(state | {"size": tuple(state["size"])}))

    # -- new inputs --------------------------------------------------------------------
    request = RequestFormat(upload=True, help="image file(s), multipart/form-data")

    def batches(self, inputs: Any, size: int, schema: Any) -> tuple[list[Any], Iterator[Any]]:
        """Image files (a file, a folder, a list of paths) or arrays of images in [0, 1]."""
        paths = file_paths(inputs, IMAGE_SUFFIXES, "image")
        if paths is None:
            x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32)
            shape = (self.channels, *self.size)
            if x.dim() == 3:
                x = x.unsqueeze(1) if self.channels == 1 else x.unsqueeze(0)
            if tuple(x.shape[1:]) != shape:
                raise DataError(
                    f"images of shape {tuple(x.shape[1:])} given; this model takes "
                    f"{shape} (C, H, W) — or pass image files"
                )
            return list(range(len(x))), iter(self.normalize(x).split(size))
        encode = lambda chunk: torch.stack([self.encode_file(p) for p in chunk])  # noqa: E731
        return [str(p) for p in paths], batched(paths, size, encode)

    def fit_novelty(self, images: torch.Tensor) -> None:
        """Learn what the (normalized) training images look like, to flag inputs unlike them."""
        from deepworks.modalities.image import novelty

        self.novel = novelty.fit(images)

    def novelty(self, inputs: Any) -> list[str] | None:
        if not self.novel:
            return None
        from deepworks.modalities.image import novelty

        _, chunks = self.batches(inputs, 256, None)
        error = torch.cat([novelty.errors(x, self.novel) for x in chunks])
        limit = self.novel["limit"]
        return [
            f"unlike the training images (thumbnail error {e:.3g}, training up to {limit:.3g})"
            if e > limit
            else ""
            for e in error.tolist()
        ]

    def labelled(self, path: Path, schema: Any) -> TensorData:
        if not path.is_dir():
            raise DataError(f"{path}: expected an image folder with one subfolder per class")
        paths, labels = [], []
        for folder in sorted(p for p in path.iterdir() if p.is_dir()):
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            paths += files
            labels += [folder.name] * len(files)
        if not paths:
            raise DataError(f"{path}: no images found in class subfolders")
        x = torch.stack([self.encode_file(p) for p in paths])
        return TensorData(x, targets_for(schema, np.asarray(labels), str(path)))

    def decode_upload(self, data: bytes, name: str | None) -> Any:
        return self.read(io.BytesIO(data), f"upload {name!r}").numpy()

    def request_inputs(self, items: list[Any]) -> Any:
        return np.stack(items)


class ImageFileData(Data):
    """Images decoded lazily from disk, resized and normalized by an ``ImageEncoder``."""

    def __init__(self, paths: Sequence[Path], y: torch.Tensor, encoder: ImageEncoder) -> None:
        self.paths, self.y, self.encoder = list(paths), y, encoder

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder.encode_file(self.paths[i]), self.y[i]

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        xs = [self.encoder.encode_file(self.paths[i]) for i in indices]
        return torch.stack(xs), self.y[torch.as_tensor(indices)]
