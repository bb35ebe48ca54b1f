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
#: Label detectors beyond confident learning on the first model's probabilities
#: (:data:`analysis.pipeline.DETECTORS`), offered in the same "Flag rows by" list; each flags
#: with the confident-learning filter of :data:`DETECTOR_FILTER`.
DETECTOR_LABELS = {
    "clean_and_refit": "Combined (clean, fit again)",
}
DETECTOR_FILTER = {"clean_and_refit": "prune_by_noise_rate"}


def method_label(result) -> str:
    """The label detector of an :class:`analysis.pipeline.Analysis`, in words."""
    detector = getattr(result, "detector", "confident_learning")
    if detector in DETECTOR_LABELS:
        return DETECTOR_LABELS[detector]
    return FILTER_LABELS.get(result.filter_by, result.filter_by)
