"""The cleaned split is the input, changed only where a decision says so (issue #13).

Property tests over arbitrary cell text (quotes, delimiters, newlines, leading zeros, TRUE,
NA, empty cells, unicode, formulas): after an export every untouched cell is the same text
(CSV) or the same typed value (Parquet, schema equal); relabelled rows differ only in the
label cell, removed rows are absent. Then one test per bad input, asserting its message.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.data.dataset import DataError, from_frame, load_dataset
from analysis.export.split import apply_decisions, write_table

TRICKY = ["", "00027", "09941", "TRUE", "false", "NA", "None", "null", "1.800", "=1+1",
          "+1", "-0", '"', '""', ",", ";", "\t", "\n", "\r\n", "\r", "a,b", 'say "hi"',
          " lead", "trail ", "ünïcødé", "日本", "1e5", "nan", "#N/A"]
cell = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=10),
)
class_name = st.one_of(
    st.sampled_from(["01", "1", "NA", "None", "null", "1.0", "TRUE", "cat", "=1+1", "a,b",
                     'q"q', "x\ny", "ü"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            min_size=1, max_size=6),
).filter(lambda s: s.strip() != "")
SETTINGS = settings(derandomize=True, deadline=None, max_examples=40,
                    suppress_health_check=[HealthCheck.too_slow])


def _parse(data: bytes, delimiter: str) -> list[list[str]]:
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _csv_text(rows, delimiter: str, ending: str) -> str:
    """CSV quoted where needed: a cell holding the delimiter, a quote, CR or LF. (Python's
    csv writer leaves a lone CR bare when the line ending is LF: that file splits the row.)"""
    def cell(s: str) -> str:
        if any(ch in s for ch in (delimiter, '"', "\r", "\n")):
            return '"' + s.replace('"', '""') + '"'
        return s
    return "".join(delimiter.join(cell(c) for c in row) + ending for row in rows)


@st.composite
def tables(draw):
    n = draw(st.integers(4, 12))
    extra = draw(st.integers(1, 3))
    names = draw(st.lists(class_name, min_size=2, max_size=3, unique=True))
    labels = [names[i % len(names)] for i in range(n)]
    # every class at least twice
    labels = labels + names
    n = len(labels)
    ids = draw(st.lists(cell.filter(lambda s: s.strip() != ""), min_size=n, max_size=n,
                        unique=True))
    columns = {"id": ids, "label": labels}
    for j in range(extra):
        columns[f"c{j}"] = draw(st.lists(cell, min_size=n, max_size=n))
    order = draw(st.permutations(list(columns)))
    rows = [[columns[c][i] for c in order] for i in range(n)]
    relabel = draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True))
    remove = draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True))
    remove = [r for r in remove if r not in relabel]
    return list(order), rows, names, relabel, remove


@SETTINGS
@given(table=tables(), delimiter=st.sampled_from([",", ";", "\t"]),
       ending=st.sampled_from(["\n", "\r\n"]), bom=st.booleans())
def test_csv_untouched_cells_are_the_same_text(tmp_path_factory, table, delimiter, ending,
                                               bom):
    header, rows, names, relabel, remove = table
    folder = tmp_path_factory.mktemp("csv")
    data = (("\ufeff" if bom else "") + _csv_text([header, *rows], delimiter, ending)
            ).encode("utf-8")
    src = folder / ("in.tsv" if delimiter == "\t" and bom else "in.csv")
    src.write_bytes(data)
    ds = load_dataset(src, "label", id_column="id", feature_columns=[], text_column=None,
                      min_class_size=1)
    assert sorted(ds.class_names) == sorted(names)
    li, ii = header.index("label"), header.index("id")
    assert [str(v) for v in ds.ids] == [r[ii] for r in rows]

    # no decision: the very same bytes
    out = folder / "none.csv"
    write_table(apply_decisions(ds, pd.DataFrame(columns=["id", "action", "new_label"])).frame,
                out, "csv")
    assert out.read_bytes() == data

    # relabels and removals: only those cells / rows change
    new = {r: names[(names.index(rows[r][li]) + 1) % len(names)] for r in relabel}
    decisions = pd.DataFrame(
        [{"id": rows[r][ii], "action": "relabel", "new_label": lab} for r, lab in new.items()]
        + [{"id": rows[r][ii], "action": "remove", "new_label": None} for r in remove],
        columns=["id", "action", "new_label"])
    cleaned = apply_decisions(ds, decisions)
    write_table(cleaned.frame, out, "csv")
    written = out.read_bytes()
    assert written.startswith(b"\xef\xbb\xbf") == bom
    back = _parse(written, delimiter)
    assert back[0] == header
    expected = []
    for r, row in enumerate(rows):
        if r in remove:
            continue
        row = list(row)
        if r in new:
            row[li] = new[r]
        expected.append(row)
    assert back[1:] == expected
    if ending == "\r\n":
        assert written.count(b"\r\n") >= len(expected) + 1


@st.composite
def typed_tables(draw):
    n = draw(st.integers(4, 10))
    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
    return pd.DataFrame({
        "id": [f"{i:05d}" for i in range(n)],
        "label": pd.array([7, 10] * (n // 2) + [7] * (n % 2), dtype="int64"),
        "count": pd.array(draw(st.lists(st.one_of(st.none(), st.integers(-5, 5)),
                                        min_size=n, max_size=n)), dtype="Int64"),
        "value": draw(st.lists(st.floats(allow_nan=True, width=64), min_size=n, max_size=n)),
        "flag": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        "note": draw(st.lists(st.one_of(st.none(), text, st.sampled_from(TRICKY)),
                              min_size=n, max_size=n)),
        "tags": draw(st.lists(st.lists(st.integers(0, 9), max_size=3), min_size=n,
                              max_size=n)),
    }), n


@SETTINGS
@given(typed=typed_tables(), data=st.data())
def test_parquet_keeps_schema_and_values(tmp_path_factory, typed, data):
    frame, n = typed
    folder = tmp_path_factory.mktemp("pq")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.set_column(table.schema.get_field_index("note"), "note",
                             table.column("note").cast(pa.large_string()))
    pq.write_table(table, folder / "in.parquet")
    ds = load_dataset(folder / "in.parquet", min_class_size=1)
    assert ds.class_names == ["7", "10"]  # numeric order, not text order
    assert "tags" not in ds.feature_columns  # nested: carried, never a feature
    relabel = data.draw(st.lists(st.integers(0, n - 1), max_size=2, unique=True))
    remove = [r for r in data.draw(st.lists(st.integers(0, n - 1), max_size=2, unique=True))
              if r not in relabel]
    old = frame["label"].tolist()
    new = {r: 10 if old[r] == 7 else 7 for r in relabel}
    decisions = pd.DataFrame(
        [{"id": f"{r:05d}", "action": "relabel", "new_label": str(v)} for r, v in new.items()]
        + [{"id": f"{r:05d}", "action": "remove", "new_label": None} for r in remove],
        columns=["id", "action", "new_label"])
    write_table(apply_decisions(ds, decisions).frame, folder / "out.parquet", "parquet")
    back = pq.read_table(folder / "out.parquet")
    assert back.schema.equals(table.schema)
    keep = [r for r in range(n) if r not in remove]
    want = table.take(keep).to_pylist()
    for row, r in zip(want, keep, strict=True):
        if r in new:
            row["label"] = new[r]
    got = back.to_pylist()
    # NaN != NaN: compare floats by their text
    assert [{**g, "value": repr(g["value"])} for g in got] == \
        [{**w, "value": repr(w["value"])} for w in want]


# --------------------------------------------------------------------------- examples


def _write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _rows(n=8):
    return "".join(f"{i:05d},{i % 2},x{i}\n" for i in range(n))


def test_the_user_example_comes_back_unchanged(tmp_path):
    lines = ["id,zip,flag,value,label"] + [
        f"{27 + i:05d},{9941 + i:05d},{'TRUE' if i % 2 else 'FALSE'},1.800,{'ab'[i % 2]}"
        for i in range(6)]
    src = _write(tmp_path / "u.csv", "\n".join(lines) + "\n")
    ds = load_dataset(src)
    assert ds.ids[0] == "00027" and ds.frame.loc[0, "zip"] == "09941"
    assert ds.features["zip"].tolist()[:2] == [9941, 9942]  # numbers for the model only
    assert ds.features["flag"].dtype == bool and ds.features["value"].iloc[0] == 1.8
    cleaned = apply_decisions(ds, pd.DataFrame(columns=["id", "action", "new_label"]))
    write_table(cleaned.frame, tmp_path / "out.csv", "csv")
    assert (tmp_path / "out.csv").read_bytes() == src.read_bytes()


def test_labels_are_text(tmp_path):
    src = _write(tmp_path / "l.csv", "label,x\n01,1\n1,2\n01,3\n1,4\nNA,5\nNA,6\nnull,7\n"
                 "null,8\nNone,9\nNone,10\n")
    ds = load_dataset(src)
    assert ds.class_names == ["01", "1", "NA", "None", "null"]
    floats = _write(tmp_path / "f.csv", "label,x\n1.0,1\n2.0,2\n1.0,3\n2.0,4\n")
    assert load_dataset(floats).class_names == ["1.0", "2.0"]
    with pytest.raises(DataError, match=r"l\.csv: column 'label' has empty or missing "
                                        r"\(or 'NA'\) labels in rows 4, 5"):
        load_dataset(src, missing_label="NA")
    numbers = _write(tmp_path / "n.csv", "label,x\n10,1\n2,2\n10,3\n2,4\n")
    assert load_dataset(numbers).class_names == ["2", "10"]


def test_mixed_types_that_print_the_same_are_refused():
    f = pd.DataFrame({"label": [1, "1", 2, 2, 1, "1"], "x": range(6)}, dtype=object)
    f["x"] = f["x"].astype(float)
    with pytest.raises(DataError, match=r"column 'label' mixes values that print the same, "
                                        r"1 \(int\) and '1' \(str\), in rows 0, 1, 4, 5"):
        from_frame(f, source="mine")


@pytest.mark.parametrize("header", ["f0,f0,label", "label,x,label"])
def test_duplicate_column_names_are_refused(tmp_path, header):
    src = _write(tmp_path / "d.csv", header + "\n" + "a,1,a\nb,2,b\na,3,a\nb,4,b\n")
    repeated = header.split(",")[0] if header.startswith("f0") else "label"
    with pytest.raises(DataError, match=rf"d\.csv: column names must be unique; repeated: "
                                        rf"'{repeated}' \(2 times\)"):
        load_dataset(src)


def test_crlf_bom_and_quoted_newlines_round_trip(tmp_path):
    text = ('\ufeffid,label,note\r\n001,a,"two\r\nlines"\r\n002,b,"a ""quote"", and comma"\r\n'
            '003,a,\r\n004,b,=1+1\r\n')
    src = _write(tmp_path / "c.csv", text)
    ds = load_dataset(src)
    assert ds.frame["note"].tolist() == ["two\r\nlines", 'a "quote", and comma', "", "=1+1"]
    cleaned = apply_decisions(ds, pd.DataFrame({"id": ["002"], "action": ["relabel"],
                                                "new_label": ["a"]}))
    write_table(cleaned.frame, tmp_path / "o.csv", "csv")
    assert (tmp_path / "o.csv").read_bytes() == src.read_bytes().replace(
        b"002,b,", b"002,a,")


def test_semicolon_separated_is_read_and_written_back_with_semicolons(tmp_path):
    src = _write(tmp_path / "s.csv", "id;label;x\n1;a;1,5\n2;b;2,5\n3;a;3\n4;b;4\n")
    ds = load_dataset(src)
    assert ds.origin.delimiter == ";" and ds.class_names == ["a", "b"]
    write_table(apply_decisions(ds, pd.DataFrame({"id": ["4"], "action": ["remove"],
                                                  "new_label": [None]})).frame,
                tmp_path / "o.csv", "csv")
    assert (tmp_path / "o.csv").read_text() == "id;label;x\n1;a;1,5\n2;b;2,5\n3;a;3\n"


def test_ragged_rows_are_named(tmp_path):
    src = _write(tmp_path / "r.csv", "label,x\na,1\nb,2\na,3,4\nb,5\n")
    with pytest.raises(DataError, match=r"r\.csv: row 2 \(line 4\) has 3 cells but the header "
                                        r"has 2 \(comma-separated\)"):
        load_dataset(src)


def test_a_stray_text_cell_in_a_numeric_feature_is_named(tmp_path):
    body = "".join(f"{'ab'[i % 2]},{i}.5\n" for i in range(40))
    src = _write(tmp_path / "x.csv", "label,x\n" + body.replace(",7.5\n", ",seven\n"))
    with pytest.raises(DataError, match=r"x\.csv: column 'x' holds numbers except in row 7 "
                                        r"\('seven'\)"):
        load_dataset(src)
    na = body.replace(",7.5\n", ",NA\n")
    ok = load_dataset(_write(tmp_path / "na.csv", "label,x\n" + na))
    assert np.isnan(ok.features["x"].iloc[7]) and ok.frame["x"].iloc[7] == "NA"


def test_nested_parquet_columns(tmp_path):
    table = pa.table({"label": ["a", "b"] * 3, "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                      "tags": [[1], [2, 3], [], [4], [5], [6]],
                      "meta": [{"k": i} for i in range(6)]})
    pq.write_table(table, tmp_path / "n.parquet")
    ds = load_dataset(tmp_path / "n.parquet")
    assert ds.feature_columns == ["x"]
    cleaned = apply_decisions(ds, pd.DataFrame({"id": ["1"], "action": ["relabel"],
                                                "new_label": ["a"]}))
    write_table(cleaned.frame, tmp_path / "o.parquet", "parquet")
    back = pq.read_table(tmp_path / "o.parquet")
    assert back.schema.equals(table.schema)
    assert back.column("tags").to_pylist() == table.column("tags").to_pylist()
    with pytest.raises(DataError, match=r"n\.parquet: feature column 'tags' holds nested "
                                        r"values \(lists or records\)"):
        load_dataset(tmp_path / "n.parquet", feature_columns=["x", "tags"])
    with pytest.raises(DataError, match=r"n\.parquet: label column 'meta' holds nested"):
        load_dataset(tmp_path / "n.parquet", "meta")


def _labels_csv(tmp_path, n=12):
    return _write(tmp_path / "d.csv", "label,x\n" + "".join(
        f"{'abc'[i % 3]},{i}\n" for i in range(n)))


def test_npz_and_renamed_npz(tmp_path):
    data = _labels_csv(tmp_path)
    np.savez(tmp_path / "p.npz", p=np.full((12, 3), 1 / 3))
    for name in ("p.npz", "renamed.npy"):
        if name == "renamed.npy":
            (tmp_path / name).write_bytes((tmp_path / "p.npz").read_bytes())
        with pytest.raises(DataError, match=rf"{name}: pred_probs is a NumPy \.npz archive"):
            load_dataset(data, pred_probs=tmp_path / name)


def test_npy_header_is_checked_before_anything_is_allocated(tmp_path):
    data = _labels_csv(tmp_path)
    path = tmp_path / "huge.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": (12, 10**9)})
        fh.write(b"\0" * 5000)
    with pytest.raises(DataError, match=r"huge\.npy: pred_probs: the \.npy header says shape "
                                        r"\(12, 1000000000\) of float64 \(89\.4 GiB\) but the "
                                        r"file holds 4\.9 KiB of data"):
        load_dataset(data, pred_probs=path)
    with pytest.raises(DataError, match=r"must have shape \(12, \.\.\.\)"):
        np.save(tmp_path / "rows.npy", np.zeros((200, 3)))
        load_dataset(data, pred_probs=tmp_path / "rows.npy")


def test_random_bytes_and_objects_in_npy(tmp_path):
    data = _labels_csv(tmp_path)
    (tmp_path / "r.npy").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DataError, match=r"r\.npy: pred_probs is not a NumPy \.npy file"):
        load_dataset(data, pred_probs=tmp_path / "r.npy")
    np.save(tmp_path / "o.npy", np.array([[{"a": 1}]] * 12, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"o\.npy: pred_probs holds Python objects \(a pickle\)"):
        load_dataset(data, pred_probs=tmp_path / "o.npy")


def test_probabilities_csv_with_and_without_header(tmp_path):
    data = _labels_csv(tmp_path)
    probs = np.random.default_rng(0).dirichlet([1, 1, 1], size=12)
    pd.DataFrame(probs).to_csv(tmp_path / "bare.csv", index=False, header=False)
    pd.DataFrame(probs, columns=["a", "b", "c"]).to_csv(tmp_path / "named.csv", index=False)
    for name in ("bare.csv", "named.csv"):
        ds = load_dataset(data, pred_probs=tmp_path / name)
        np.testing.assert_allclose(ds.pred_probs, probs, rtol=1e-12)
    pd.DataFrame(probs[:11]).to_csv(tmp_path / "short.csv", index=False, header=False)
    with pytest.raises(DataError, match=r"short\.csv: pred_probs has 11 rows but the data has "
                                        r"12: one row per data row"):
        load_dataset(data, pred_probs=tmp_path / "short.csv")
    bad = pd.DataFrame(probs).astype(object)
    bad.iloc[4, 1] = "oops"
    bad.to_csv(tmp_path / "bad.csv", index=False, header=False)
    with pytest.raises(DataError, match=r"bad\.csv: pred_probs column '1' is not a number in "
                                        r"row 4 \('oops'\)"):
        load_dataset(data, pred_probs=tmp_path / "bad.csv")


def test_parquet_integer_label_is_relabelled_as_an_integer(tmp_path):
    frame = pd.DataFrame({"id": range(6), "label": [0, 1] * 3, "x": np.arange(6.0)})
    frame.to_parquet(tmp_path / "i.parquet", index=False)
    ds = load_dataset(tmp_path / "i.parquet")
    cleaned = apply_decisions(ds, pd.DataFrame({"id": ["3"], "action": ["relabel"],
                                                "new_label": ["0"]}))
    for fmt in ("parquet", "csv"):
        write_table(cleaned.frame, tmp_path / f"o.{fmt}", fmt)
    back = pq.read_table(tmp_path / "o.parquet")
    assert back.schema.field("label").type == pa.int64()
    assert back.column("label").to_pylist() == [0, 1, 0, 0, 0, 1]
    assert (tmp_path / "o.csv").read_text().splitlines()[4] == "3,0,3.0"


@pytest.mark.parametrize("cell", ["a\rb", "a\r\nb", "a\nb", "\r", "plain"])
def test_parquet_source_written_as_csv_reads_back_row_for_row(tmp_path, cell):
    # pandas quotes a field only for the characters of its line ending: a bare "\r" in a text
    # cell used to come out unquoted and split the row when read back
    frame = pd.DataFrame({"id": ["r0", "r1", "r2", "r3"], "text": [cell, "x", cell, "y"],
                          "label": ["a", "b", "a", "b"], "f": [1.5, 2.0, 3.0, 4.0]})
    frame.to_parquet(tmp_path / "s.parquet", index=False)
    ds = load_dataset(tmp_path / "s.parquet", "label")
    cleaned = apply_decisions(ds, pd.DataFrame({"id": ["r1"], "action": ["relabel"],
                                                "new_label": ["a"]}))
    write_table(cleaned.frame, tmp_path / "out.csv", "csv")
    back = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert back["id"].tolist() == ["r0", "r1", "r2", "r3"]
    assert back["text"].tolist() == [cell, "x", cell, "y"]
    assert back["label"].tolist() == ["a", "a", "a", "b"]
    with open(tmp_path / "out.csv", newline="") as fh:  # the stdlib reader agrees
        assert [r[1] for r in csv.reader(fh)][1:] == [cell, "x", cell, "y"]
