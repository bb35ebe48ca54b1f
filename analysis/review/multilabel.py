"""Review decisions of a multi-label dataset (#28), kept in the same review store.

A multi-label decision is stored as a single-label one (:mod:`analysis.review.store`), under
the dataset key ``multilabel:<identity>`` (a dataset's multi-label review never mixes with a
single-label review of the same file): ``keep`` (the given tags are right), ``remove`` (drop
the row from the cleaned split) or ``relabel`` whose new label is the row's tag set as a JSON
list of class names (``[]``: no tag), so that an empty set, or a class name holding the
separator of another export, is stored unambiguously.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Prefix of a multi-label dataset's key in the review store.
KEY_PREFIX = "multilabel:"


def review_key(identity: str) -> str:
    """The review-store key of a multi-label dataset named ``identity`` (``sample:NAME`` or
    ``file:/resolved/path``)."""
    return f"{KEY_PREFIX}{identity}"


def encode_tags(tags: Sequence[str]) -> str:
    """A tag set as the stored new label: a JSON list of class names."""
    return json.dumps([str(t) for t in tags], ensure_ascii=False)


def decode_tags(text: str, class_names: Sequence[str]) -> list[str]:
    """A stored tag set back as a list of class names (in class order).

    Raises
    ------
    ValueError
        Not a JSON list of strings, or a name that is not one of ``class_names``.
    """
    try:
        tags = json.loads(text)
    except (TypeError, ValueError):
        tags = None
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError(f"stored tag set {text!r} is not a JSON list of class names.")
    unknown = [t for t in tags if t not in class_names]
    if unknown:
        raise ValueError(f"stored tag set {text!r} names {unknown[0]!r}, not one of the "
                         f"classes ({', '.join(map(str, class_names))}).")
    return [c for c in class_names if c in tags]


def with_tag(tags: Sequence[str], tag: str, present: bool, class_names: Sequence[str]) -> list:
    """``tags`` with ``tag`` added (``present``) or taken out, in class order."""
    chosen = set(tags) | {tag} if present else set(tags) - {tag}
    return [c for c in class_names if c in chosen]


def apply_decisions(labels, ids, class_names: Sequence[str],
                    decisions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The given tags with the review applied.

    Parameters
    ----------
    labels : array-like of shape (N, K)
        The given 0/1 tags.
    ids : sequence of str
        The row ids (decisions name rows by id; an id no row has is ignored).
    class_names : sequence of str
    decisions : DataFrame
        :meth:`analysis.review.store.ReviewStore.decisions` (``id``, ``action``,
        ``new_label``).

    Returns
    -------
    new_labels : ndarray of shape (N, K), uint8
        ``relabel`` rows carry their decided tag set; every other row its given tags.
    keep : ndarray of shape (N,), bool
        False for the ``remove`` rows.
    """
    new = np.array(labels, dtype=np.uint8, copy=True)
    keep = np.ones(new.shape[0], dtype=bool)
    index = {str(v): r for r, v in enumerate(ids)}
    column = {c: k for k, c in enumerate(class_names)}
    for rid, action, label in zip(decisions["id"].astype(str), decisions["action"],
                                  decisions["new_label"], strict=True):
        row = index.get(rid)
        if row is None:
            continue
        if action == "remove":
            keep[row] = False
        elif action == "relabel":
            new[row] = 0
            new[row, [column[t] for t in decode_tags(label, class_names)]] = 1
    return new, keep


__all__ = ["KEY_PREFIX", "apply_decisions", "decode_tags", "encode_tags", "review_key",
           "with_tag"]
