"""Loading a config: YAML, `--set` overrides, and validation errors a person can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

# kind ("dataset", "model", ...) → its registry; what a loader passes as validation context.
from deepworks.config.base import Registries
from deepworks.config.experiment import ExperimentConfig
from deepworks.core.errors import ConfigError, did_you_mean


def _section_fields(loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at ``loc`` (for suggestions on an unknown key)."""
    cls: Any = ExperimentConfig
    for part in loc:
        field = cls.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        cls = _model_in(field.annotation)
        if cls is None:
            return []
    return list(cls.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, getattr(__import__("types"), "UnionType", Union)):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found:
                return found
    return None


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            hint = did_you_mean(key, _section_fields(loc[:-1]))
            lines.append(f"unknown key `{where}`.{hint or ' Remove it or check the docs.'}")
        elif err["type"] == "missing":
            lines.append(f"`{where}` is required but missing.")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            shown = (
                ""
                if isinstance(got, dict | list) or err["type"] == "value_error"
                else (f" (got {got!r})")
            )
            lines.append(f"`{where}`: {msg}{shown}.".replace("..", "."))
    return f"invalid config {source}: " + " ".join(lines)  # one line, however many problems


def parse_override(text: str) -> tuple[list[str], Any]:
    """``train.epochs=3`` → (["train", "epochs"], 3); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override `{text}` must look like key.path=value (e.g. train.epochs=3)")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for text in overrides:
        keys, value = parse_override(text)
        node = raw
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override `{text}`: `{k}` is not a section")
        node[keys[-1]] = value
    return raw


def load_config(
    source: str | Path | dict[str, Any] | ExperimentConfig,
    overrides: list[str] | None = None,
    registries: Registries | None = None,
) -> ExperimentConfig:
    """Read and validate an experiment from a YAML path, a dict or a config object; with
    ``registries`` (kind → Registry) the names it points to are checked too.

    >>> cfg = load_config({"data": {"dataset": "iris"}, "model": {"name": "mlp"}})
    >>> cfg.train.epochs
    10
    """
    if isinstance(source, ExperimentConfig):
        if not overrides:
            return source
        source = source.to_dict()
    if isinstance(source, dict):
        raw, where = dict(source), "(dict)"
    else:
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = " ".join(str(getattr(exc, "problem", "") or exc).split())
            raise ConfigError(f"config file {path} is not valid YAML{at}: {problem}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not UTF-8 text") from None
        if raw is None:
            raise ConfigError(
                f"config file {path} is empty; see examples/ for a config to start from"
            )
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {path} must be a YAML mapping (key: value lines)")
    raw = apply_overrides(raw, overrides or [])
    try:
        return ExperimentConfig.model_validate(raw, context={"registries": registries})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where)) from None


def json_schema() -> dict[str, Any]:
    return ExperimentConfig.model_json_schema()
