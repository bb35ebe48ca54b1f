"""``label``: the label-issue detector of the :class:`~analysis.pipeline.Analysis` (confident
learning with its ``filter_by``, or the combined detector; its ``rank_by`` score)."""

from __future__ import annotations

import numpy as np

from analysis.signals.base import Context, Found, IssueType, percent, quoted


class LabelIssue(IssueType):
    name = "label"
    title = "label issue"

    def find(self, ctx: Context) -> Found:
        return Found(ctx.label_flags, ctx.label_scores)

    def sentence(self, signals, row, t, *, labels, names, ids, pred_probs, detector):
        """The label: the model's probability of it (or its quality score), and the verdict."""
        own = names[int(labels[row])]
        if pred_probs is not None:
            p = np.asarray(pred_probs[row], dtype=np.float64)
            best = int(np.argmax(p))
            text = (f"The model (out-of-fold) gives its label {quoted(own)} a probability of "
                    f"{percent(p[int(labels[row])])}")
            text += (f"; it predicts {quoted(names[best])} at {percent(p[best])}."
                     if best != labels[row] else ", its own top choice.")
        else:
            text = f"Its label quality score is {t['label_score']:.3f} (0 = surely wrong)."
        verdict = (f" {detector.capitalize()} flags the label." if t["is_label_issue"]
                   else f" {detector.capitalize()} does not flag the label.")
        return text + verdict
