"""noiselens analysis: confident learning and everything around it, without any UI.

The public API is re-exported here; see ``docs/architecture.md``, Public API.
"""

from analysis.annotators.agreement import (
    AgreementSummary,
    Consensus,
    agreement_summary,
    annotator_accuracy,
    annotator_confusion,
    cohen_kappa,
    encode_ratings,
    fleiss_kappa,
    krippendorff_alpha,
    majority_vote,
    pairwise_kappa,
    weighted_vote,
)
from analysis.core.cache import fingerprint, workspace
from analysis.core.confident import (
    NoiseEstimate,
    confident_joint,
    confident_thresholds,
    estimate_noise,
)
from analysis.core.evidence import calibrate_confident_joint
from analysis.core.issues import (
    FILTERS,
    RANKINGS,
    find_label_issues,
    label_quality_scores,
    num_label_issues,
)
from analysis.core.multilabel import (
    MultilabelEstimate,
    estimate_multilabel,
    find_multilabel_issues,
    multilabel_quality_scores,
)
from analysis.data.dataset import (
    DataError,
    Dataset,
    from_arrays,
    from_frame,
    from_sample,
    load_dataset,
)
from analysis.model.embedding import prepare_features, project
from analysis.model.multilabel import multilabel_out_of_fold_probabilities
from analysis.model.neighbours import (
    default_duplicate_threshold,
    near_duplicates,
    nearest_neighbours,
    neighbour_agreement,
    outlier_score,
)
from analysis.model.probabilities import out_of_fold_probabilities
from analysis.multilabel_pipeline import MultilabelAnalysis, analyze_multilabel
from analysis.pipeline import Analysis, analyze

__all__ = [
    "MultilabelEstimate",
    "estimate_multilabel",
    "find_multilabel_issues",
    "multilabel_out_of_fold_probabilities",
    "multilabel_quality_scores",
    "MultilabelAnalysis",
    "analyze_multilabel",
    "Analysis",
    "analyze",
    "DataError",
    "Dataset",
    "default_duplicate_threshold",
    "fingerprint",
    "from_arrays",
    "from_frame",
    "from_sample",
    "load_dataset",
    "near_duplicates",
    "nearest_neighbours",
    "neighbour_agreement",
    "out_of_fold_probabilities",
    "outlier_score",
    "prepare_features",
    "project",
    "workspace",
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
    "AgreementSummary",
    "Consensus",
    "agreement_summary",
    "annotator_accuracy",
    "annotator_confusion",
    "cohen_kappa",
    "encode_ratings",
    "fleiss_kappa",
    "krippendorff_alpha",
    "majority_vote",
    "pairwise_kappa",
    "weighted_vote",
]
