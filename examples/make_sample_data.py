"""Write sample "own data" for the my-table.yaml and my-images.yaml examples.

    python examples/make_sample_data.py            # → sample-data/

sample-data/wine.csv        scikit-learn's wine table plus a categorical column, with some
                            cells emptied, to show how missing values are handled
sample-data/digit-images/   scikit-learn's digits as PNG files, one folder per class
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits, load_wine


def main(out: Path) -> None:
    rng = np.random.default_rng(0)
    frame = load_wine(as_frame=True).frame
    frame["cultivar"] = np.asarray(["barolo", "grignolino", "barbera"])[frame.pop("target")]
    frame.insert(0, "cellar", rng.choice(["north", "south", "east"], len(frame)))
    for column in ("alcohol", "magnesium", "cellar"):
        frame.loc[rng.random(len(frame)) < 0.05, column] = None
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "wine.csv", index=False)

    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = out / "digit-images" / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255 / 16).astype(np.uint8)).save(folder / f"{i:04}.png")
    print(out)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "sample-data"))
