"""``near_duplicate``: rows at most a threshold apart
(:func:`analysis.model.neighbours.default_duplicate_threshold`) in the feature / embedding
space; the other rows' positions are kept, and a pair whose labels differ is *conflicting*
(almost always one of the two labels is wrong). Score ``d / (d + m)`` with ``d`` the distance
to the nearest other row and ``m`` the median of that distance over all rows (0 = an exact
duplicate, 0.5 = a typical row). Not looked for in the probability space: two rows the model
sees alike are not copies of each other."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.model.neighbours import default_duplicate_threshold, near_duplicates
from analysis.signals.base import Context, Found, IssueType, quoted

_NO_PAIRS = {"row_a": np.int64, "row_b": np.int64, "distance": np.float32,
             "label_a": np.int64, "label_b": np.int64, "conflicting": bool}


class NearDuplicate(IssueType):
    name = "near_duplicate"
    title = "near-duplicate"

    def find(self, ctx: Context) -> Found:
        n = ctx.labels.shape[0]
        threshold = float("nan")
        pairs = pd.DataFrame({c: np.empty(0, t) for c, t in _NO_PAIRS.items()})
        flag = np.zeros(n, dtype=bool)
        conflicting = np.zeros(n, dtype=bool)
        score = np.ones(n)
        if ctx.k >= 1 and ctx.space != "probabilities":
            threshold = default_duplicate_threshold(ctx.distances)
            pairs = near_duplicates(ctx.indices, ctx.distances, ctx.labels, threshold=threshold)
            a, b = pairs["row_a"].to_numpy(), pairs["row_b"].to_numpy()
            flag[a] = flag[b] = True
            conflict = pairs["conflicting"].to_numpy()
            conflicting[a[conflict]] = conflicting[b[conflict]] = True
            typical = float(np.median(ctx.nearest))
            with np.errstate(invalid="ignore", divide="ignore"):
                score = np.where(ctx.nearest > 0, ctx.nearest / (ctx.nearest + typical), 0.0)
        return Found(flag, np.clip(score, 0.0, 1.0),
                     columns={"near_duplicate_conflicting": conflicting},
                     extra={"duplicates": pairs, "duplicate_threshold": threshold})

    def sentence(self, signals, row, t, *, labels, names, ids, pred_probs, detector):
        """The nearest (near-)duplicate and whether its label differs (None without one)."""
        partners = signals.partners(row)
        if not partners.size:
            return None
        own = names[int(labels[row])]
        first = int(partners[0])
        d = float(t["nearest_distance"])
        kind = "an exact duplicate" if d == 0 else f"a near-duplicate (distance {d:.3g})"
        text = (f"It is {kind} of row {ids[first]}, which is labelled "
                f"{quoted(names[int(labels[first])])}")
        if labels[first] != labels[row]:
            text += f", not {quoted(own)}: one of the two labels is wrong"
        text += "."
        if partners.size > 1:
            text += f" {partners.size - 1} more row(s) are near-duplicates of it too."
        return text
