"""Multi-label tags read from a table and written back in its own form (#28): both forms,
the probabilities, every bad input's exact message, and round trips."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis.data import multilabel as mld
from analysis.data.dataset import DataError


def text_frame(**columns):
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})


def test_delimited_cells_with_empty_rows_spaces_and_repeats():
    frame = text_frame(labels=["dog|cat", "", "cat", " dog | bird ", "bird|bird", "cat|dog|bird"])
    tags = mld.parse_delimited(frame, "labels")
    assert tags.class_names == ["bird", "cat", "dog"]
    np.testing.assert_array_equal(tags.labels, [[0, 1, 1], [0, 0, 0], [0, 1, 0], [1, 0, 1],
                                                [1, 0, 0], [1, 1, 1]])
    assert tags.form == "delimited" and tags.separator == "|"
    assert tags.notes == [
        "row 5 has every one of the 3 tags (valid: each tag is checked on its own).",
        "1 of 6 rows have no tag (valid in a delimited label column).",
        "row 4 repeats a tag in one cell: counted once.",
    ]


def test_missing_values_of_a_typed_column_are_rows_without_tags():
    frame = pd.DataFrame({"labels": pd.array(["a|b", pd.NA, None, "b"], dtype="string")})
    tags = mld.parse_delimited(frame, "labels")
    np.testing.assert_array_equal(tags.labels, [[1, 1], [0, 0], [0, 0], [0, 1]])


def test_any_separator_and_given_class_order():
    frame = text_frame(tags=["billing;urgent", "urgent", "", "billing"])
    tags = mld.parse_delimited(frame, "tags", separator=";",
                               class_names=["urgent", "billing", "spam"])
    assert tags.class_names == ["urgent", "billing", "spam"]
    np.testing.assert_array_equal(tags.labels, [[1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0]])
    assert "no row has tag 'spam': only missing 'spam' tags can be found." in tags.notes


@pytest.mark.parametrize("cells, kwargs, message", [
    (["a|b", "a|c", "c|z"], {"class_names": ["a", "b", "c"]},
     "data: column 'labels' has tag 'z', which is not one of the class names ['a', 'b', 'c'], "
     "in row 2."),
    (["a|b", "a"], {"class_names": ["a", "b|c"]},
     "data: class name 'b|c' contains the tag separator '|': choose another separator "
     "(--label-sep) or rename the class."),
    (["a", "a", ""], {},
     "data: column 'labels' has 1 class(es) ['a']: multi-label needs at least 2 (one tag "
     "present or absent is a binary label)."),
    (["a||b", "a"], {},
     "data: column 'labels' has an empty tag (two separators '|' in a row, or one at an end) "
     "in row 0 ('a||b')."),
    (["a", "b"], {"separator": ""}, "data: the tag separator is empty: give one, e.g. '|'."),
])
def test_delimited_bad_input(cells, kwargs, message):
    with pytest.raises(DataError, match="^" + re.escape(message) + "$"):
        mld.parse_delimited(text_frame(labels=cells), "labels", **kwargs)


def test_zero_one_columns_by_list_and_by_prefix():
    frame = text_frame(id=["1", "2", "3"], tag_cat=["1", "0", "1.0"], tag_dog=["0", "1", "true"],
                       pred_prob_cat=["0.9", "0.2", "0.8"], pred_prob_dog=["0.1", "0.7", "1"])
    by_prefix = mld.parse_columns(frame, prefix="tag_")
    assert by_prefix.class_names == ["cat", "dog"] and by_prefix.columns == ["tag_cat", "tag_dog"]
    np.testing.assert_array_equal(by_prefix.labels, [[1, 0], [0, 1], [1, 1]])
    by_list = mld.parse_columns(frame, ["tag_cat", "tag_dog"])
    assert by_list.class_names == ["tag_cat", "tag_dog"]
    np.testing.assert_array_equal(by_list.labels, by_prefix.labels)
    probs = mld.parse_probabilities(frame, by_prefix.class_names)
    np.testing.assert_array_equal(probs, [[0.9, 0.1], [0.2, 0.7], [0.8, 1.0]])
    assert mld.parse_probabilities(frame, ["tag_cat", "tag_dog"]) is None


def test_typed_zero_one_columns():
    frame = pd.DataFrame({"a": [1, 0, 1], "b": [False, True, True], "c": [0.0, 0.0, 1.0]})
    tags = mld.parse_columns(frame, ["a", "b", "c"])
    np.testing.assert_array_equal(tags.labels, [[1, 0, 0], [0, 1, 0], [1, 1, 1]])
    assert tags.labels.dtype == np.uint8


@pytest.mark.parametrize("frame, kwargs, message", [
    (text_frame(a=["0", "2", "1"], b=["1", "0", "1"]), {"columns": ["a", "b"]},
     "data: 0/1 column 'a' holds '2' in row 1: each cell must be 0 or 1."),
    (pd.DataFrame({"a": [0, 2, 1], "b": [1, 0, 1]}), {"columns": ["a", "b"]},
     "data: 0/1 column 'a' holds 2 in row 1: each cell must be 0 or 1."),
    (text_frame(a=["0", "yes", "1"], b=["1", "0", "1"]), {"columns": ["a", "b"]},
     "data: 0/1 column 'a' holds 'yes' in row 1: each cell must be 0 or 1."),
    (text_frame(a=["0", "1", ""], b=["1", "0", "1"]), {"columns": ["a", "b"]},
     "data: 0/1 column 'a' is empty in row 2: each cell must be 0 or 1."),
    (text_frame(tag_a=["0", "1"], b=["1", "0"]), {"prefix": "tag_"},
     "data: columns ['tag_a'] for the tags: multi-label needs at least 2 classes (prefix "
     "'tag_')."),
    (text_frame(a=["0", "1"]), {"columns": ["a", "zz"]},
     "data: no 0/1 label column 'zz' (columns: ['a'])."),
])
def test_zero_one_bad_input(frame, kwargs, message):
    with pytest.raises(DataError, match="^" + re.escape(message) + "$"):
        mld.parse_columns(frame, **kwargs)


@pytest.mark.parametrize("probs, message", [
    ({"pred_prob_a": ["0.5", "1.2"], "pred_prob_b": ["0.1", "0.3"]},
     "data: probability column 'pred_prob_a' is outside 0..1 in row 1 ('1.2')."),
    ({"pred_prob_a": ["0.5", "x"], "pred_prob_b": ["0.1", "0.3"]},
     "data: probability column 'pred_prob_a' is not a number in row 1 ('x')."),
    ({"pred_prob_a": ["0.5", "0.2"]},
     "data: probability columns for 1 of 2 classes: missing ['pred_prob_b'] (one per class, "
     "or none)."),
])
def test_probability_bad_input(probs, message):
    with pytest.raises(DataError, match="^" + re.escape(message) + "$"):
        mld.parse_probabilities(text_frame(**probs), ["a", "b"])


def test_probabilities_just_outside_are_rounding():
    frame = text_frame(pred_prob_a=["1.0004", "0"], pred_prob_b=["-0.0001", "0.5"])
    np.testing.assert_array_equal(mld.parse_probabilities(frame, ["a", "b"]),
                                  [[1.0, 0.0], [0.0, 0.5]])


def test_write_back_a_delimited_cell_changes_only_changed_rows():
    frame = text_frame(id=["7", "8", "9", "10"], labels=["dog | cat", "", "cat", "bird|dog"])
    tags = mld.parse_delimited(frame, "labels")  # bird, cat, dog
    new = tags.labels.copy()
    new[0, 1] = 0  # remove cat
    new[1, 2] = 1  # add dog to an empty row
    new[3] = 0  # remove every tag
    out = mld.write_tags(frame, tags, new)
    assert out["labels"].tolist() == ["dog", "dog", "cat", ""]
    assert out["id"].tolist() == frame["id"].tolist()
    assert frame["labels"].tolist() == ["dog | cat", "", "cat", "bird|dog"]  # not modified
    again = mld.parse_delimited(out, "labels", class_names=tags.class_names)
    np.testing.assert_array_equal(again.labels, new)
    assert mld.tag_changes(tags.labels, new, tags.class_names) == [
        {"row": 0, "added": [], "removed": ["cat"]},
        {"row": 1, "added": ["dog"], "removed": []},
        {"row": 3, "added": [], "removed": ["bird", "dog"]},
    ]
    unchanged = mld.write_tags(frame, tags, tags.labels)
    assert unchanged["labels"].tolist() == frame["labels"].tolist()


def test_write_back_zero_one_columns_in_their_own_spelling():
    frame = text_frame(a=["1.0", "0.0", "1.0"], b=["0", "0", "1"])
    tags = mld.parse_columns(frame, ["a", "b"])
    new = tags.labels.copy()
    new[1] = [1, 1]
    out = mld.write_tags(frame, tags, new)
    assert out["a"].tolist() == ["1.0", "1.0", "1.0"]
    assert out["b"].tolist() == ["0", "1", "1"]
    typed = pd.DataFrame({"a": [1, 0], "b": [True, False]})
    tags = mld.parse_columns(typed, ["a", "b"])
    out = mld.write_tags(typed, tags, [[0, 0], [1, 1]])
    assert out["a"].tolist() == [0, 1] and out["b"].tolist() == [False, True]
    assert out.dtypes.tolist() == typed.dtypes.tolist()


def test_a_csv_file_read_as_text(tmp_path):
    from analysis.data.dataset import read_table

    path = tmp_path / "tags.csv"
    path.write_text('id,labels,tag_x\n1,"cat|dog",1\n2,,0\n3,dog,1\n', encoding="utf-8")
    frame = read_table(path)
    tags = mld.parse_delimited(frame, "labels", source=path.name)
    np.testing.assert_array_equal(tags.labels, [[1, 1], [0, 0], [0, 1]])
    new = tags.labels.copy()
    new[1, 0] = 1
    assert mld.write_tags(frame, tags, new)["labels"].tolist() == ["cat|dog", "cat", "dog"]
    with pytest.raises(DataError, match=r"^tags\.csv: column 'labels' has tag 'dog', which is "
                                        r"not one of the class names \['cat', 'bird'\], in rows "
                                        r"0, 2\.$"):
        mld.parse_delimited(frame, "labels", class_names=["cat", "bird"], source=path.name)
