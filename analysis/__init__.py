"""noiselens analysis: confident learning and everything around it, without any UI.

The public API is re-exported here; see ``../shared/DESIGN.md`` section 4.
"""

from analysis.confident import (
    NoiseEstimate,
    calibrate_confident_joint,
    confident_joint,
    confident_thresholds,
    estimate_noise,
)
from analysis.issues import (
    FILTERS,
    RANKINGS,
    find_label_issues,
    label_quality_scores,
    num_label_issues,
)

__all__ = [
    "FILTERS",
    "RANKINGS",
    "NoiseEstimate",
    "calibrate_confident_joint",
    "confident_joint",
    "confident_thresholds",
    "estimate_noise",
    "find_label_issues",
    "label_quality_scores",
    "num_label_issues",
]
