"""``neighbour_disagreement``: the share of the ``k`` nearest neighbours carrying the row's own
label is the score; flagged when under :data:`AGREEMENT_THRESHOLD` (most neighbours carry
another label). Also gives each row the most common other label among its neighbours."""

from __future__ import annotations

import numpy as np

from analysis.core._kernels import most_common_other
from analysis.signals.base import Context, Found, IssueType, quoted

#: Neighbour disagreement is an issue when fewer than this share of neighbours agree.
AGREEMENT_THRESHOLD = 0.5


def most_common_other_label(neighbour_labels: np.ndarray, labels: np.ndarray):
    """Per row, the most common neighbour label other than its own (ties: lowest class) and
    its count; -1 and 0 when every neighbour agrees. O(N * k^2) with k small, no N x K
    (a compiled loop: 0.05 s at 1M x 10, where the numpy form took 1-2 s)."""
    return most_common_other(np.ascontiguousarray(neighbour_labels, dtype=np.int64),
                             np.ascontiguousarray(labels, dtype=np.int64))


class NeighbourDisagreement(IssueType):
    name = "neighbour_disagreement"
    title = "neighbours disagree"

    def find(self, ctx: Context) -> Found:
        n = ctx.labels.shape[0]
        if ctx.k >= 1:
            other, count = most_common_other_label(ctx.labels[ctx.indices], ctx.labels)
        else:
            other, count = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64)
        return Found(ctx.agreement < AGREEMENT_THRESHOLD, ctx.agreement,
                     columns={"neighbour_label": other, "neighbour_label_count": count})

    def sentence(self, signals, row, t, *, labels, names, ids, pred_probs, detector):
        """What the nearest neighbours are labelled (None without neighbours)."""
        k = signals.k
        if not k:
            return None
        own = names[int(labels[row])]
        agree = int(round(t["neighbour_disagreement_score"] * k))
        where = "predicted probabilities" if signals.space == "probabilities" else signals.space
        if t["neighbour_label"] >= 0 and agree < k:
            other = names[int(t["neighbour_label"])]
            cnt = int(t["neighbour_label_count"])
            text = (f"{cnt} of its {k} nearest neighbours (in the {where}) are labelled "
                    f"{quoted(other)}")
            text += (f"; {agree} share its label {quoted(own)}." if agree
                     else f"; none shares its label {quoted(own)}.")
            return text
        return f"All {k} of its nearest neighbours (in the {where}) are labelled {quoted(own)} too."
