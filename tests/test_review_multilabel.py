"""Multi-label review decisions (#28): tag sets stored as JSON lists, applied to the tags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.review.multilabel import (
    apply_decisions,
    decode_tags,
    encode_tags,
    review_key,
    with_tag,
)
from analysis.review.store import ReviewStore

NAMES = ["<b>x</b>", "a|b", "*y*", "plain"]


def test_tag_sets_round_trip_through_the_store(tmp_path):
    store = ReviewStore(review_key("sample:digits_tags"), path=tmp_path / "r.sqlite")
    for tags in ([], ["a|b"], ["plain", "<b>x</b>"], NAMES):
        store.decide("7", "relabel", encode_tags(tags))
        got = decode_tags(store.get("7")["new_label"], NAMES)
        assert got == [c for c in NAMES if c in tags]  # class order
    assert store.key == "multilabel:sample:digits_tags"


def test_decode_refuses_what_is_not_a_tag_set():
    with pytest.raises(ValueError, match=r"stored tag set 'even' is not a JSON list of class "
                                         r"names\."):
        decode_tags("even", NAMES)
    with pytest.raises(ValueError, match=r"names 'dog', not one of the classes"):
        decode_tags('["dog"]', NAMES)


def test_with_tag():
    assert with_tag(["plain"], "<b>x</b>", True, NAMES) == ["<b>x</b>", "plain"]
    assert with_tag(["plain", "*y*"], "plain", False, NAMES) == ["*y*"]
    assert with_tag([], "plain", False, NAMES) == []


def test_apply_decisions_against_a_loop():
    rng = np.random.default_rng(0)
    labels = (rng.random((30, len(NAMES))) < 0.5).astype(np.uint8)
    ids = [f"r{i}" for i in range(30)]
    decisions = pd.DataFrame({
        "id": ["r3", "r4", "r5", "r9", "gone"],
        "action": ["relabel", "remove", "keep", "relabel", "relabel"],
        "new_label": [encode_tags(["*y*"]), None, None, encode_tags([]), encode_tags([])]})
    new, keep = apply_decisions(labels, ids, NAMES, decisions)
    expected = labels.copy()
    for i, a, t in zip(decisions["id"], decisions["action"], decisions["new_label"],
                       strict=True):
        if a == "relabel" and i in ids:
            r = ids.index(i)
            for k, c in enumerate(NAMES):
                expected[r, k] = int(c in t and f'"{c}"' in t)
    np.testing.assert_array_equal(new, expected)
    assert keep.tolist() == [i != "r4" for i in ids]
    assert new.dtype == np.uint8 and labels[9].any() and not new[9].any()
