"""`numbers-fr`, `numbers-de`, `numbers-es`: English number words → French, German or Spanish
number words, written by num2words for every number from 0 to 9,999.

Whole blocks of a hundred numbers (``TEST_BLOCKS`` of them, drawn by ``NUMBERS_SEED``) are held
out as the test split: a test number's block — "three thousand four hundred and …" — never
appears in training, so the model must have learned how the parts compose ("trois mille",
"quatre cent", "douze"), not memorized the pairs. German writes a number as one word
("dreitausendvierhundertzwölf"): read it with subwords or characters.
"""

from __future__ import annotations

import numpy as np

from deepworks.core.errors import require
from deepworks.core.lazy import lazy_module

pd = lazy_module("pandas")  # imported on first use: most runs read no table

NUMBERS_SEED = 11
LARGEST = 9_999
BLOCK = 100  # numbers are held out a hundred at a time
TEST_BLOCKS = 10  # 1,000 test numbers
LANGUAGES = {"fr": "French", "de": "German", "es": "Spanish"}


def number_pairs(lang: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training pairs, test pairs), columns `english` and the language's code."""
    num2words = require("num2words", "translation", "the numbers datasets").num2words
    numbers = np.arange(LARGEST + 1)
    blocks = np.random.default_rng(NUMBERS_SEED).choice(
        len(numbers) // BLOCK, TEST_BLOCKS, replace=False
    )
    held_out = np.isin(numbers // BLOCK, blocks)
    frame = pd.DataFrame(
        {
            "number": numbers,
            "english": [num2words(int(n)) for n in numbers],
            lang: [num2words(int(n), lang=lang) for n in numbers],
        }
    ).set_index("number")
    return frame[~held_out], frame[held_out]
