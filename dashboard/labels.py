"""Display names of the confident-learning methods (sidebar, captions, reports)."""

FILTER_LABELS = {
    "prune_by_noise_rate": "Prune by noise rate (default)",
    "prune_by_class": "Prune by class",
    "both": "Both prune methods",
    "confident_learning": "Confident joint off-diagonal",
    "predicted_neq_given": "Prediction differs from label",
    "low_self_confidence": "Lowest self-confidence",
    "low_normalized_margin": "Lowest normalised margin",
}
RANK_LABELS = {
    "self_confidence": "Self-confidence",
    "normalized_margin": "Normalised margin",
    "confidence_weighted_entropy": "Confidence-weighted entropy",
}
