"""What every figure shares: matplotlib loaded on first use (files only), a figure laid out and
written, and the ``figure`` decorator that hands whole figures to helper processes.

Inside ``written_aside`` a ``@figure`` function does not draw here: its call — the data, the
path — goes to a helper (deepworks.core.helpers), which builds, lays out and writes the figure
while this process goes on; matplotlib is then never imported here at all. Outside it, or
where the call's data cannot be pickled, the figure is drawn here as before. The PNG is the
same either way.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from deepworks.core.helpers import Helpers

F = TypeVar("F", bound=Callable[..., Path])
_aside: Helpers | None = None  # where figures go, inside `written_aside`


@functools.cache  # once: choosing the backend again for every figure is wasted work
def pyplot() -> Any:
    """matplotlib's pyplot, drawing to files only (never needs a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path, dpi: int = 100) -> Path:
    """Lay out, write and close a figure; returns where it went."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


def figure(draw: F) -> F:
    """A figure drawn from plain data into its ``path`` argument; inside ``written_aside`` the
    whole call is handed to a helper, and the path is returned at once."""
    signature = inspect.signature(draw)

    @functools.wraps(draw)
    def call(*args: Any, **kwargs: Any) -> Path:
        if _aside is not None and draw.__module__ != "__main__":  # a helper cannot import that
            given = signature.bind(*args, **kwargs)
            # the helper's working folder is where this process's was when it started
            given.arguments["path"] = path = Path(given.arguments["path"]).absolute()
            try:  # the helper imports this function by its name: `call` itself, not `draw`
                _aside.submit(call, *given.args, **given.kwargs)
                return path
            except (pickle.PicklingError, TypeError, AttributeError):
                pass  # data that does not pickle is drawn here
        return draw(*args, **kwargs)

    return call  # type: ignore[return-value]


@contextlib.contextmanager
def written_aside(helpers: Helpers | None) -> Iterator[None]:
    """Within, ``@figure`` calls go to ``helpers`` (None: drawn here); on leaving, every
    figure is on disk, or the first that failed is raised."""
    global _aside
    _aside = helpers
    try:
        yield
    except BaseException:
        if helpers is not None:  # its figures finish; the first failure is the one to tell
            with contextlib.suppress(RuntimeError):
                helpers.wait()
        raise
    finally:
        _aside = None
    if helpers is not None:
        helpers.wait()
