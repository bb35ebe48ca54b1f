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


def test_review_order_is_kept_per_decisions_and_equals_the_package(tmp_path, monkeypatch):
    """compute.review_order: the package's order for these decisions, computed once for the
    same ids and actions, and again when a decision changes (issue #30)."""
    import streamlit as st

    from analysis.review.findings import review_order
    from dashboard import compute

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    st.cache_resource.clear()
    result = nl.analyze(nl.from_sample("digits"), detector="confident_learning")
    ids = np.asarray(result.dataset.ids).astype(str)
    first = ids[result.ranked[:3]]
    keep = pd.DataFrame({"id": first, "action": ["keep"] * 3})
    wrong = pd.DataFrame({"id": first, "action": ["keep", "relabel", "remove"]})
    for decisions in (None, keep, wrong):
        got = compute.review_order(result, decisions)
        assert got.tolist() == review_order(result, decisions).tolist()
        assert compute.review_order(result, decisions) is got  # kept: the same array
    # other actions on the same ids are other verdicts: not served from the same entry
    assert compute.review_order(result, keep) is not compute.review_order(result, wrong)
    st.cache_resource.clear()
