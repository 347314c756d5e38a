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
print("TORCH" if "torch" in sys.modules else "NO-TORCH", file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["runs", "--runs-dir", "{runs}"], ["run", "--help"]])
def test_light_commands_do_not_import_torch(args, tmp_path):
    args = [a.replace("{runs}", str(tmp_path)) for a in args]
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True
    )
    assert done.stderr.strip().splitlines()[-1] == "NO-TORCH", done.stderr


MODULES = """
import sys
from deepworks.cli import main
sys.argv = ["deepworks", *{args!r}]
try:
    main()
except SystemExit:
    pass
print(" ".join(sorted({{m.split(".")[0] for m in sys.modules}})), file=sys.stderr)
"""


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
    args = ["predict", str(run.path), str(row), "-o", str(tmp_path / "p.csv")]
    done = subprocess.run(
        [sys.executable, "-c", MODULES.format(args=args)], capture_output=True, text=True
    )
    loaded = set(done.stderr.strip().splitlines()[-1].split())
    assert (tmp_path / "p.csv").is_file(), done.stderr
    assert "torch" in loaded
    assert not loaded & {"torchvision", "torchmetrics", "sklearn", "transformers", "captum"}
