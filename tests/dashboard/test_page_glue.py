"""Small pieces of page glue tested directly (no AppTest)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import analysis as nl
from dashboard import components


def test_decided_rows_marks_the_rows_of_the_ids_and_ignores_unknown_ids():
    frame = pd.DataFrame({"id": ["a", "b", "<i>c</i>", "7", "e"], "label": list("xyxyx"),
                          "f": np.arange(5.0)})
    ds = nl.from_frame(frame, "label", id_column="id")
    ids = {"<i>c</i>": "keep", "7": "remove", "gone": "keep"}
    expected = np.array([str(i) in ids for i in ds.ids])  # the obvious loop
    assert components.decided_rows(ds, ids).tolist() == expected.tolist() == \
        [False, False, True, True, False]
    assert not components.decided_rows(ds, []).any()
