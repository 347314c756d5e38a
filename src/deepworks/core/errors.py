"""User-facing errors.

A user's mistake raises a :class:`DeepworksError` subclass whose message says what happened,
what was expected and how to fix it. The CLI prints that one message and exits non-zero; it
never shows a traceback for these.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DeepworksError(Exception):
    """Base class of every error that is the user's to fix."""

    exit_code = 2


class ConfigError(DeepworksError):
    """The experiment configuration is invalid."""


class DataError(DeepworksError, ValueError):
    """A data file or table cannot be used as given (a ValueError too, as scikit-learn's
    estimator contract expects of bad input)."""


class ModelError(DeepworksError):
    """A model cannot be built for the data as configured."""


class RunError(DeepworksError):
    """A run folder is missing, incomplete or cannot be resumed."""


class PeerLostError(DeepworksError):
    """Another process of a distributed run stopped (its machine died, it was killed): not the
    user's mistake, but said in one line all the same."""

    exit_code = 1


class TrainingError(DeepworksError):
    """Training cannot go on (for example the loss became NaN)."""


class MissingDependencyError(DeepworksError):
    """An optional dependency is not installed."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean `x`?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean `{close[0]}`?" if close else ""


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency or raise a clear error naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the `{module}` package, which is not installed. "
            f"Install it with: pip install 'deepworks[{extra}]'"
        ) from exc
