"""Garbage collection in deepworks' own processes (the command line and its helpers).

A command's start-up imports torch, scikit-learn, matplotlib...: half a million objects that
live as long as the process. CPython collects its oldest generation whenever the objects that
survived the younger collections have grown by a quarter, so while those imports run it walks
all of them again and again: 8 full collections, 0.7–0.9 s of a digits run on 2 cores, 0.3 s of
a one-row `predict`. Looking at the oldest generation after 100 collections of the middle one
instead of CPython's 10 leaves start-up without any; young garbage is collected as often as
before, and a process that lives long (a server) still collects its oldest generation under
the same quarter rule, only checked less often. A library user's process keeps its own policy.
"""

from __future__ import annotations

import gc

OLDEST_EVERY = 100  # middle-generation collections between looks at the oldest (CPython: 10)


def collect_oldest_rarely() -> None:
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, OLDEST_EVERY)
