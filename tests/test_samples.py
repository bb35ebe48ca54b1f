"""Bundled samples: they load offline, hold the true labels of scikit-learn's originals, carry
exactly the noise their cards state, and regenerate byte for byte."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

from analysis.data import samples
from analysis.data.noise import flip_count
from analysis.data.samples import load, names

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "sample_datasets"
SHAPES = {
    "digits": (1797, 67),
    "digits_annotators": (1797, 72),
    "wine": (178, 16),
    "breast_cancer": (569, 33),
    "digits_vendors": (1797, 68),
}


def _build_module():
    spec = importlib.util.spec_from_file_location("build_samples", SAMPLES_DIR / "build_samples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def card_table(card: str, heading: str) -> list[list[str]]:
    """Body rows of the first markdown table from ``heading`` on (heading row included when
    the heading is the table's own header)."""
    lines = card[card.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip("|").split("|")])
    return table[2:]  # drop the header and the alignment row


def _int(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture(scope="module", params=list(SHAPES))
def sample(request):
    return load(request.param)


def test_names():
    assert names() == list(SHAPES)
    assert names()[0] == "digits"


def test_shapes_and_metadata(sample):
    frame = sample.frame
    assert frame.shape == SHAPES[sample.name]
    assert frame.columns[:3].tolist() == ["id", "label", "true_label"]
    np.testing.assert_array_equal(frame[sample.id_column], np.arange(len(frame)))
    assert set(sample.feature_columns).isdisjoint(sample.annotator_columns)
    assert len(sample.feature_columns) + len(sample.annotator_columns) + 3 \
        + len(sample.slice_columns) == frame.shape[1]
    assert frame[sample.feature_columns].notna().all().all()
    assert sample.card.startswith(f"# {sample.name}: ")
    if sample.image_shape is not None:
        assert np.prod(sample.image_shape) == len(sample.feature_columns)


def test_card_states_exact_noise(sample):
    given = sample.frame[sample.label_column].astype(str).to_numpy()
    true = sample.frame[sample.true_label_column].astype(str).to_numpy()
    wrong = given != true
    card = sample.card
    total = re.search(r"Total: ([\d,]+) of ([\d,]+) rows have a wrong label", card)
    assert (_int(total[1]), _int(total[2])) == (wrong.sum(), given.size)

    per_class = card_table(card, "### Noise per true class")
    stated = {name: (_int(rows), _int(bad)) for name, rows, bad, _ in per_class}
    actual = {c: (np.sum(true == c), np.sum((true == c) & wrong)) for c in np.unique(true)}
    assert stated == actual

    pairs = card_table(card, "### Mislabelled rows by (true, given)")
    stated = {(t, g): _int(n) for t, g, n in pairs}
    actual = pd.Series(list(zip(true[wrong], given[wrong], strict=True))).value_counts()
    assert stated == actual.to_dict()


def test_digits_true_labels_and_pixels_are_sklearns():
    digits = load_digits()
    for name in ("digits", "digits_annotators"):
        s = load(name)
        np.testing.assert_array_equal(s.frame["true_label"], digits.target)
        np.testing.assert_array_equal(s.frame[s.feature_columns].to_numpy(), digits.data)
        assert s.image_shape == (8, 8)
        assert s.frame["label"].dtype == np.int64


def test_digits_recipe_counts():
    s = load("digits")
    y = s.frame["true_label"].to_numpy()
    given = s.frame["label"].to_numpy()
    pair_rows = {(1, 7): 36, (4, 9): 36, (3, 8): 27}
    for (a, b), n in pair_rows.items():
        assert flip_count({1: 0.2, 4: 0.2, 3: 0.15}[a], int(np.sum(y == a))) == n
        assert np.sum((y == a) & (given == b)) >= n  # uniform noise may add a few more
    uniform = flip_count(0.03, y.size - sum(pair_rows.values()))
    assert uniform == 51
    assert np.sum(given != y) == sum(pair_rows.values()) + uniform == 150
    assert "(36 rows)" in s.card and "(51 rows)" in s.card


@pytest.mark.parametrize(
    ("name", "loader"), [("wine", load_wine), ("breast_cancer", load_breast_cancer)]
)
def test_tabular_samples_are_sklearns(name, loader):
    data = loader()
    s = load(name)
    expected = np.asarray(data.target_names)[data.target]
    np.testing.assert_array_equal(s.frame["true_label"].to_numpy(dtype=object), expected)
    assert s.feature_columns == list(data.feature_names)
    np.testing.assert_array_equal(s.frame[s.feature_columns].to_numpy(), data.data)
    assert set(s.frame["label"]) <= set(data.target_names)
    assert s.image_shape is None and s.annotator_columns == []


def test_tabular_noise_rates():
    wine = load("wine")
    rate = np.mean(wine.frame["label"] != wine.frame["true_label"])
    assert 0.07 <= rate <= 0.13  # "about 10%"
    cancer = load("breast_cancer")
    f = cancer.frame
    assert np.sum((f.true_label == "malignant") & (f.label == "benign")) == flip_count(0.15, 212)
    assert np.sum((f.true_label == "benign") & (f.label == "malignant")) == flip_count(0.05, 357)


def test_annotators_sample():
    s = load("digits_annotators")
    f = s.frame
    cols = s.annotator_columns
    assert cols == [f"annotator_{a}" for a in range(1, 6)]
    assert all(f[c].dtype == "Int64" for c in cols)
    y = f["true_label"].to_numpy()
    ratings = f[cols].to_numpy(dtype=np.float64, na_value=np.nan)
    assert np.all(np.isnan(ratings).sum(axis=0) == flip_count(0.2, len(f)))
    assert np.all((~np.isnan(ratings)).sum(axis=1) >= 1)
    # label = majority vote of the available ratings, ties to the lowest class
    counts = np.stack([(ratings == k).sum(axis=1) for k in range(10)], axis=1)
    np.testing.assert_array_equal(f["label"], counts.argmax(axis=1))
    # the stated accuracies, exact in rows
    stated = card_table(s.card, "| annotator | rated rows |")
    targets = (0.95, 0.90, 0.85, 0.75, 0.60)
    accuracies = []
    for (_, rated, correct, _, confusion, pair_rows), target, r in zip(
        stated, targets, ratings.T, strict=True
    ):
        ok = ~np.isnan(r)
        assert _int(rated) == ok.sum()
        assert _int(correct) == np.sum(r[ok] == y[ok])
        assert ok.sum() - _int(correct) == flip_count(1 - target, int(ok.sum()))
        a, b = (int(d) for d in re.match(r"(\d) -> (\d)", confusion).groups())
        assert _int(pair_rows) == np.sum(ok & (y == a) & (r == b))
        accuracies.append(_int(correct) / ok.sum())
    assert accuracies == sorted(accuracies, reverse=True)


def test_load_returns_a_fresh_frame():
    first = load("wine")
    first.frame.loc[0, "label"] = "class_2"
    assert load("wine").frame.loc[0, "label"] == "class_0"


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown sample 'mnist'; valid names: digits, "):
        load("mnist")
    with pytest.raises(ValueError, match="valid names"):
        samples.sample_path("mnist")
    assert samples.sample_path("wine") == SAMPLES_DIR / "wine.csv"


@pytest.fixture
def sample_copy(tmp_path, monkeypatch):
    """A writable copy of the sample folder that ``load`` reads from."""
    for path in SAMPLES_DIR.glob("wine.*"):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setattr(samples, "SAMPLES_DIR", tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda text: text.replace("true_label", "truth", 1), r"columns \['true_label'\]"),
        (lambda text: text.rsplit("\n", 2)[0] + "\n", "expected 178 rows, found 177"),
        (lambda text: text.replace("\n1,class_0,", "\n7,class_0,", 1), "must be 0..177"),
        (lambda text: text.replace(",14.23,", ",,", 1), r"'alcohol' is empty at rows \[0\]"),
        (lambda text: text.replace(",14.23,", ",abc,", 1), "does not hold the sample's type"),
    ],
)
def test_corrupt_file_raises(sample_copy, corrupt, message):
    path = sample_copy / "wine.csv"
    path.write_text(corrupt(path.read_text()))
    with pytest.raises(ValueError, match=message):
        load("wine")


def test_missing_file_says_how_to_regenerate(sample_copy):
    (sample_copy / "wine.md").unlink()
    with pytest.raises(ValueError, match="build_samples.py"):
        load("wine")


def test_regeneration_is_byte_identical(tmp_path):
    written = _build_module().build_all(tmp_path)
    shipped = sorted(p.name for p in SAMPLES_DIR.iterdir() if p.suffix in (".csv", ".md"))
    assert sorted(p.name for p in written) == shipped
    for path in written:
        assert path.read_bytes() == (SAMPLES_DIR / path.name).read_bytes(), path.name
