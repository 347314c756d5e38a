"""Start-up: commands import only what they need. Listing runs and asking for help never load
torch (checked in a fresh interpreter; what is imported, not how long it takes)."""

import subprocess
import sys

import pytest

PROBE = """
import sys
from deepworks.cli import main
sys.argv = ["deepworks", *{args!r}]
try:
    main()
except SystemExit:
    pass
print(" ".join(sorted({{m.split(".")[0] for m in sys.modules}})), file=sys.stderr)
"""


def _loaded(args: list[str]) -> tuple[set[str], str]:
    """The top-level packages a `deepworks` command imported, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True
    )
    return set(done.stderr.strip().splitlines()[-1].split()), done.stderr


@pytest.mark.parametrize("args", [["--help"], ["runs", "--runs-dir", "{runs}"], ["run", "--help"]])
def test_light_commands_do_not_import_torch(args, tmp_path):
    loaded, err = _loaded([a.replace("{runs}", str(tmp_path)) for a in args])
    assert "deepworks" in loaded and "torch" not in loaded, err


def test_predicting_a_table_row_loads_no_image_text_or_fitting_library(tmp_path):
    """One row of a table: torch and the run's own pieces, not torchvision, torchmetrics or
    scikit-learn (which only training and evaluation need)."""
    import deepworks
    from tests.conftest import tiny_config

    run = deepworks.run(
        tiny_config(epochs=1) | {"evaluate": {"baselines": False, "explain": 0}},
        runs_dir=tmp_path,
        progress=False,
    )
    row = tmp_path / "row.csv"
    row.write_text(
        "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n5.1,3.5,1.4,0.2\n"
    )
    loaded, err = _loaded(["predict", str(run.path), str(row), "-o", str(tmp_path / "p.csv")])
    assert (tmp_path / "p.csv").is_file(), err
    assert "torch" in loaded
    assert not loaded & {"torchvision", "torchmetrics", "sklearn", "transformers", "captum"}


@pytest.mark.parametrize("dataset", ["iris", "diabetes"])  # classification, regression
def test_training_on_a_table_loads_no_image_or_text_library(dataset, tmp_path):
    """A whole run on a table — training, every score, baselines, explanations — imports
    neither torchmetrics (whose package loads torchvision and transformers) nor those two."""
    import yaml

    from tests.conftest import tiny_config

    config = tmp_path / "table.yaml"
    config.write_text(yaml.safe_dump(tiny_config(dataset, epochs=2)))
    loaded, err = _loaded(["run", str(config), "--runs-dir", str(tmp_path), "-q"])
    assert "captum" in loaded and "sklearn" in loaded, err  # it did train and explain
    assert not loaded & {"torchvision", "torchmetrics", "transformers"}, err


def test_code_that_reads_no_table_loads_no_pandas():
    """pandas (half a second) loads with the first table read: loading a run to predict, every
    kind of data and every task import without it."""
    probe = (
        "import sys, deepworks.predict, deepworks.tasks, deepworks.modalities, deepworks.data\n"
        "print('pandas' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


FULL_COLLECTIONS = """
import gc
full = []
gc.callbacks.append(lambda phase, info: phase == "stop" and info["generation"] == 2
                    and full.append(1))
{policy}
import torch, sklearn.model_selection
print(len(full))
"""
COMMAND_POLICY = """
import atexit, gc, sys
atexit.register(lambda: print("oldest every", gc.get_threshold()[2]))
from deepworks.cli import command
sys.argv = ["deepworks", "--help"]
command()
"""


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="Python 3.14's collector is incremental")
def test_start_up_imports_are_not_walked_by_full_garbage_collections():
    """CPython's own policy walks every imported object again each time they grow by a
    quarter; deepworks' processes (the executable, its helpers) look at the oldest generation
    rarely, so importing torch and scikit-learn runs no full collection."""

    from deepworks.core.garbage import OLDEST_EVERY

    def full_collections(policy: str) -> int:
        code = FULL_COLLECTIONS.format(policy=policy)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[-1])

    assert full_collections("") >= 2
    policy = "from deepworks.core.garbage import collect_oldest_rarely; collect_oldest_rarely()"
    assert full_collections(policy) == 0
    done = subprocess.run([sys.executable, "-c", COMMAND_POLICY], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == f"oldest every {OLDEST_EVERY}", done.stderr
