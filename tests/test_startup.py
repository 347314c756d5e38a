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
