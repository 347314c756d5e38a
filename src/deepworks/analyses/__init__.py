"""Post-fit analyses, registered as plug-ins: each checks before training, works after it."""

from deepworks.analyses import (  # noqa: F401  (registers the analyses)
    audit,
    cross_validation,
    curves,
    explanations,
    leaderboard,
    slices,
)
from deepworks.analyses.base import (
    ANALYSES,
    Analysis,
    Context,
    enabled_analyses,
    register_analysis,
)

__all__ = ["ANALYSES", "Analysis", "Context", "enabled_analyses", "register_analysis"]
