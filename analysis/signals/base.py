"""What an issue type is, and the registry of the issue types every analysis computes.

An issue type gives every row ``is_<name>_issue`` (bool) and ``<name>_score`` in [0, 1], low is
worse (the schema of cleanlab's Datalab, whose ``IssueManager`` registry this follows). To add
one: a module in this package with a subclass of :class:`IssueType` (its :meth:`~IssueType.find`
and :meth:`~IssueType.sentence`), and one line in :data:`analysis.signals.compute.REGISTRY`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True, eq=False)
class Context:
    """What every issue type may read: the labels, the label detector's verdict, the space
    and the neighbour graph with its per-row statistics (computed once for all types)."""

    labels: np.ndarray          # (N,) given labels 0..K-1
    label_scores: np.ndarray    # (N,) the label detector's quality score, in [0, 1]
    label_flags: np.ndarray     # (N,) its flags
    X: np.ndarray               # (N, D) float32: the space
    pred_probs: np.ndarray | None
    space: str                  # "features", "embeddings", "text" or "probabilities"
    k: int                      # neighbours per row (0: none)
    indices: np.ndarray         # (N, k) neighbour rows, nearest first
    distances: np.ndarray       # (N, k) float64
    agreement: np.ndarray       # (N,) share of neighbours carrying the row's own label
    mean_distance: np.ndarray   # (N,) mean distance to the neighbours
    nearest: np.ndarray         # (N,) distance to the nearest other row


@dataclass(frozen=True)
class Found:
    """One issue type's answer: the flags and scores, and any further per-row columns of the
    signal table (``columns``) or results kept on :class:`~analysis.signals.compute.Signals`
    (``extra``)."""

    flags: np.ndarray
    scores: np.ndarray
    columns: dict | None = None
    extra: dict | None = None


class IssueType:
    """One kind of issue a row can have."""

    #: Column stem: ``is_<name>_issue``, ``<name>_score``.
    name: str = ""
    #: Plain words for people.
    title: str = ""

    def find(self, ctx: Context) -> Found:
        """Flags and scores of every row."""
        raise NotImplementedError

    def sentence(self, signals, row: int, t: pd.Series, *, labels: np.ndarray,
                 names: list[str], ids: np.ndarray, pred_probs, detector: str) -> str | None:
        """One sentence for people on this row (``t``: its row of the signal table), or
        ``None`` when there is nothing to say."""
        return None


def quoted(name) -> str:
    """A class name as the sentences show it."""
    return f"'{name}'"


def percent(p: float) -> str:
    """0.0017 -> "0.17%", 0.3 -> "30%": small probabilities keep two significant digits."""
    return f"{100 * p:.2g}%" if p < 0.01 else f"{p:.0%}"
