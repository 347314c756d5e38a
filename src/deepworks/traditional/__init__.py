"""Traditional machine learning (scikit-learn) on flat arrays: the leaderboard's baselines.

Without torch, so that a helper process which has imported only scikit-learn can fit them
while the run goes on (``fit``); the run scores what they output with the task's own metric
code (deepworks.analyses.baselines). This package's own import loads nothing.
"""

WARM = "deepworks.traditional.fit:warm"  # what a helper that fits baselines loads first
