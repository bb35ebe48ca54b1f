"""Class order: whether the columns of ``pred_probs`` follow the class names' order (a
permutation would turn every label into an issue), and class names read from a file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from analysis.data._basics import DataError
from analysis.data._cells import _sorted_names

#: Another column order must beat the assumed one by at least this much agreement (argmax of
#: ``pred_probs`` = given label) before :attr:`ClassOrder.suspicious` is set.
CLASS_ORDER_MARGIN = 0.10


@dataclass(frozen=True)
class ClassOrder:
    """How the probability columns fit the classes (see :func:`check_class_order`).

    Attributes
    ----------
    assumed : float
        Share of rows whose most probable column is their given label, columns taken in
        the dataset's class order.
    best : float
        The same share under the best one-to-one matching of columns to classes.
    mapping : ndarray of shape (K,), int64
        ``mapping[c]`` is the column that best matches class ``c``.
    class_names : list of str
    """

    assumed: float
    best: float
    mapping: np.ndarray
    class_names: list[str]

    @property
    def suspicious(self) -> bool:
        """Another order fits clearly better (by :data:`CLASS_ORDER_MARGIN` or more)."""
        return self.best - self.assumed >= CLASS_ORDER_MARGIN

    def message(self, source: str = "pred_probs") -> str:
        """A plain-language warning naming both agreements and a few moved classes, and the
        order assumed: the class names sorted (the default), or as given (``--class-names``,
        ``classes=``) when they are not in sorted order."""
        moved = [c for c in range(len(self.mapping)) if self.mapping[c] != c]
        shown = ", ".join(f"{self.class_names[c]!r} fits column {int(self.mapping[c])}"
                          for c in moved[:3])
        # names not in the default (sorted) order can only have been given in that order
        given = list(self.class_names) != _sorted_names(list(self.class_names))
        order = "class names in the order given" if given else "class names sorted"
        advice = ("Check that the class names given (--class-names FILE, or classes= in "
                  "Python) are in the model's column order; the analysis below assumes the "
                  "order given." if given else
                  "If the model used another order, give the class names in the model's "
                  "column order (--class-names FILE, or classes= in Python); the analysis "
                  "below assumes the sorted order.")
        return (
            f"{source}: the probability columns may not be in the order of the classes. In "
            f"the assumed order ({order}: {', '.join(map(repr, self.class_names[:3]))}"
            f"{', …' if len(self.class_names) > 3 else ''}) the most probable column equals "
            f"the given label for {self.assumed:.1%} of the rows; matched column by column "
            f"it would be {self.best:.1%} ({shown}{', …' if len(moved) > 3 else ''}). "
            + advice
        )


def check_class_order(labels, pred_probs, class_names: Sequence[str]) -> ClassOrder:
    """Compare the argmax of ``pred_probs`` with the labels under the assumed column order and
    under the best-matching permutation of the columns.

    The best permutation maximises the number of rows whose most probable column is mapped
    to their given label (an assignment problem on the K x K table of label vs argmax
    counts, solved exactly with :func:`scipy.optimize.linear_sum_assignment`).

    Parameters
    ----------
    labels : ndarray of shape (N,), int
    pred_probs : ndarray of shape (N, K)
    class_names : sequence of str

    Returns
    -------
    ClassOrder
    """
    labels = np.asarray(labels, dtype=np.int64)
    k = pred_probs.shape[1]
    top = np.asarray(pred_probs).argmax(axis=1)
    table = np.bincount(labels * k + top, minlength=k * k).reshape(k, k)
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = np.empty(k, dtype=np.int64)
    mapping[rows] = cols
    n = max(len(labels), 1)
    assumed = float(np.trace(table)) / n
    best = float(table[rows, cols].sum()) / n
    if best <= assumed:  # ties: the assumed order is a best one
        mapping, best = np.arange(k, dtype=np.int64), assumed
    return ClassOrder(assumed, best, mapping, [str(c) for c in class_names])


def read_class_names(path: str | Path) -> list[str]:
    """Class names from a text file, one per line in the model's column order (empty lines
    and surrounding spaces ignored; a ``.json`` file may hold a list)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{p.name}: cannot read the class names ({err}).") from None
    if p.suffix.lower() == ".json":
        try:
            names = json.loads(text)
        except ValueError as err:
            raise DataError(f"{p.name}: not valid JSON ({err}).") from None
        if not isinstance(names, list) or not all(isinstance(n, (str, int)) for n in names):
            raise DataError(f"{p.name}: expected a JSON list of class names.")
        return [str(n) for n in names]
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise DataError(f"{p.name}: no class names (one per line, in column order).")
    return names
