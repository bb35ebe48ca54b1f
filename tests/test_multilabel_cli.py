"""``noiselens analyze --multi-label`` end to end (#28): the files it writes hold what the core
functions compute on their own, the cleaned split changes the flagged rows only (byte for byte
elsewhere) in both input forms, ``--clean none`` is a byte copy."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from analysis.core.multilabel import (
    estimate_multilabel,
    find_multilabel_issues,
    multilabel_quality_scores,
    suggested_tags,
)
from analysis.data.dataset import read_table
from analysis.data.multilabel import load_multilabel_sample, parse_columns, parse_delimited
from analysis.model.multilabel import choose_multilabel_model
from dashboard.cli import main

#: Class names with the characters that break naive writers: a formula start, a ``<`` and a
#: double quote (listed sorted, the order the delimited reader gives them).
NAMES = ["=sum", "a<b", 'say "hi"']
#: Rows whose given tags were flipped from the truth, and the class flipped.
FLIPS = {3: 0, 10: 1, 25: 2, 40: 0, 77: 1}
ROWS = 80


def _known():
    """(given 0/1 tags, probabilities): probabilities of the truth, five flips the model is
    sure of (beyond every per-class threshold)."""
    rng = np.random.default_rng(7)
    truth = (rng.random((ROWS, len(NAMES))) < 0.4).astype(np.uint8)
    probs = np.where(truth == 1, rng.uniform(0.75, 0.99, truth.shape),
                     rng.uniform(0.01, 0.25, truth.shape)).round(4)
    given = truth.copy()
    for row, k in FLIPS.items():
        given[row, k] ^= 1
        probs[row, k] = 0.995 if truth[row, k] else 0.005  # the model is sure of the truth
    return given, probs


def _write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _delimited_csv(folder: Path) -> Path:
    given, probs = _known()
    rows = [[100 + i, "|".join(NAMES[j] for j in np.flatnonzero(given[i])), *probs[i]]
            for i in range(ROWS)]
    return _write_csv(folder / "tags.csv", ["id", "label", *(f"pred_prob_{n}" for n in NAMES)],
                      rows)


def _columns_csv(folder: Path) -> Path:
    given, probs = _known()
    rows = [[100 + i, *given[i], *probs[i]] for i in range(ROWS)]
    return _write_csv(folder / "cols.csv", ["id", *(f"tag_{n}" for n in NAMES),
                                            *(f"pred_prob_{n}" for n in NAMES)], rows)


FORMS = {"delimited": (_delimited_csv, ["--multi-label"]),
         "columns": (_columns_csv, ["--label-prefix", "tag_"])}


def _guard(cell: str) -> str:
    """The formula guard of the human-facing files, written out: a leading ``'``."""
    return "'" + cell if cell.startswith("=") else cell


def _run(path: Path, out: Path, *flags: str) -> None:
    assert main(["analyze", str(path), *flags, "--out", str(out)]) == 0


def _expected_flagged() -> np.ndarray:
    given, probs = _known()
    return np.flatnonzero(find_multilabel_issues(given, probs))


def test_the_known_flips_are_found():
    assert set(FLIPS) <= set(_expected_flagged().tolist())


@pytest.mark.parametrize("form", sorted(FORMS))
def test_label_issues_hold_what_the_core_computes(form, tmp_path):
    make, flags = FORMS[form]
    _run(make(tmp_path), tmp_path / "out", *flags)
    given, probs = _known()
    flagged = _expected_flagged()
    scores = multilabel_quality_scores(given, probs)
    order = flagged[np.argsort(scores[flagged], kind="stable")]
    issues = pd.read_csv(tmp_path / "out" / "label_issues.csv", dtype=str,
                         keep_default_na=False)
    assert issues["id"].astype(int).tolist() == (100 + order).tolist()
    np.testing.assert_allclose(issues["score"].astype(float), scores[order], rtol=1e-12)
    est = estimate_multilabel(given, probs)
    suggested = suggested_tags(given, est.issues)

    def cell(matrix, i):
        return _guard("|".join(NAMES[j] for j in np.flatnonzero(matrix[i])))

    assert issues["given_tags"].tolist() == [cell(given, i) for i in order]
    assert issues["suggested_tags"].tolist() == [cell(suggested, i) for i in order]
    assert issues["missing_tags"].tolist() == [cell(est.issues & (given == 0), i)
                                               for i in order]
    assert issues["extra_tags"].tolist() == [cell(est.issues & (given == 1), i)
                                             for i in order]


@pytest.mark.parametrize("form", sorted(FORMS))
def test_clean_none_is_a_byte_copy(form, tmp_path):
    make, flags = FORMS[form]
    path = make(tmp_path)
    _run(path, tmp_path / "out", *flags, "--clean", "none")
    cleaned = tmp_path / "out" / f"{path.stem}_cleaned.csv"
    assert cleaned.read_bytes() == path.read_bytes()
    changes = pd.read_csv(tmp_path / "out" / "tag_changes.csv")
    assert len(changes) == 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["clean"] == {
        "mode": "none", "rows_changed": 0}


def _parse(path: Path, form: str):
    frame = read_table(path)
    if form == "delimited":
        return parse_delimited(frame, "label").labels
    return parse_columns(frame, prefix="tag_").labels


@pytest.mark.parametrize("form", sorted(FORMS))
def test_clean_suggestions_changes_only_the_flagged_rows(form, tmp_path):
    make, flags = FORMS[form]
    path = make(tmp_path)
    _run(path, tmp_path / "out", *flags, "--clean", "suggestions")
    cleaned = tmp_path / "out" / f"{path.stem}_cleaned.csv"
    given, probs = _known()
    est = estimate_multilabel(given, probs)
    flagged = set(np.flatnonzero(est.is_issue).tolist())
    before = path.read_bytes().split(b"\n")
    after = cleaned.read_bytes().split(b"\n")
    assert len(after) == len(before) and after[0] == before[0]
    for i in range(ROWS):
        same = after[i + 1] == before[i + 1]
        assert same != (i in flagged), f"row {i}"
    np.testing.assert_array_equal(_parse(cleaned, form), suggested_tags(given, est.issues))
    changes = pd.read_csv(tmp_path / "out" / "tag_changes.csv", dtype=str,
                          keep_default_na=False)
    assert changes["row"].astype(int).tolist() == sorted(flagged)
    for _, change in changes.iterrows():
        row = int(change["row"])
        added = [NAMES[j] for j in np.flatnonzero(est.issues[row] & (given[row] == 0))]
        removed = [NAMES[j] for j in np.flatnonzero(est.issues[row] & (given[row] == 1))]
        assert change["added"] == _guard("|".join(added))
        assert change["removed"] == _guard("|".join(removed))


def test_a_csv_quoting_every_cell_with_crlf_keeps_its_quoting(tmp_path):
    given, probs = _known()
    path = tmp_path / "quoted.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(["id", "label", *(f"pred_prob_{n}" for n in NAMES)])
        writer.writerows([i, "|".join(NAMES[j] for j in np.flatnonzero(given[i])), *probs[i]]
                         for i in range(ROWS))
    _run(path, tmp_path / "out", "--multi-label")
    est = estimate_multilabel(given, probs)
    before = path.read_bytes().split(b"\r\n")
    after = (tmp_path / "out" / "quoted_cleaned.csv").read_bytes().split(b"\r\n")
    changed = [i - 1 for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert changed == np.flatnonzero(est.is_issue).tolist()
    suggested = suggested_tags(given, est.issues)
    for i in changed:  # kept tags in the cell's order, added ones after; quoted as before
        kept = np.flatnonzero(suggested[i] & given[i])
        added = np.flatnonzero(suggested[i] & ~given[i].astype(bool))
        cell = "|".join(NAMES[j] for j in [*kept, *added]).replace('"', '""')
        assert after[i + 1].split(b",")[1] == f'"{cell}"'.encode()


def test_a_parquet_file_stays_parquet_with_its_types(tmp_path):
    given, probs = _known()
    frame = pd.DataFrame({"id": 100 + np.arange(ROWS),
                          **{f"tag_{n}": given[:, j].astype(np.int64) for j, n in enumerate(NAMES)},
                          **{f"pred_prob_{n}": probs[:, j] for j, n in enumerate(NAMES)}})
    frame.to_parquet(tmp_path / "cols.parquet", index=False)
    _run(tmp_path / "cols.parquet", tmp_path / "out", "--label-prefix", "tag_")
    cleaned = pd.read_parquet(tmp_path / "out" / "cols_cleaned.parquet")
    assert cleaned.dtypes.to_dict() == frame.dtypes.to_dict()
    est = estimate_multilabel(given, probs)
    unflagged = ~est.is_issue
    pd.testing.assert_frame_equal(cleaned[unflagged], frame[unflagged])
    suggested = suggested_tags(given, est.issues)
    np.testing.assert_array_equal(cleaned[[f"tag_{n}" for n in NAMES]].to_numpy(), suggested)


def test_per_class_rates_and_jeffreys_intervals(tmp_path):
    _run(_delimited_csv(tmp_path), tmp_path / "out", "--multi-label")
    given, probs = _known()
    est = estimate_multilabel(given, probs)
    table = pd.read_csv(tmp_path / "out" / "per_class.csv", keep_default_na=False)
    assert table["class"].tolist() == ["'=sum", "a<b", 'say "hi"']
    assert table["rows_with_tag"].tolist() == given.sum(axis=0).tolist()
    cj = est.confident_joint
    for k in range(len(NAMES)):
        x, n = cj[k, 0, 1], cj[k, 0, 1] + cj[k, 1, 1]  # missing: given 0 among true 1
        assert table["missing_rate"][k] == pytest.approx(x / n, rel=1e-12)
        low = 0.0 if x == 0 else beta.ppf(0.025, x + 0.5, n - x + 0.5)
        high = 1.0 if x == n else beta.ppf(0.975, x + 0.5, n - x + 0.5)
        assert table["missing_rate_low"][k] == pytest.approx(low, rel=1e-12)
        assert table["missing_rate_high"][k] == pytest.approx(high, rel=1e-12)
        x, n = cj[k, 1, 0], cj[k, 0, 0] + cj[k, 1, 0]
        assert table["extra_rate"][k] == pytest.approx(x / n, rel=1e-12)
        assert table["flagged_missing"][k] == int((est.issues[:, k] & (given[:, k] == 0)).sum())
        assert table["flagged_extra"][k] == int((est.issues[:, k] & (given[:, k] == 1)).sum())
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["counts"]["flagged_rows"] == int(est.is_issue.sum())
    assert summary["health_score"] == pytest.approx(1 - est.is_issue.mean(), rel=1e-12)
    assert summary["probabilities"] == "given" and summary["model"] is None


def test_out_showing_an_export_set_or_a_file_is_refused_before_the_work(tmp_path, capsys):
    path = _delimited_csv(tmp_path)
    (tmp_path / ".out.noiselens").mkdir()  # where a multi-class run keeps the sets of out/
    assert main(["analyze", str(path), "--multi-label", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (f"noiselens: error: --out {tmp_path / 'out'}: shows a noiselens export set "
                   "(of a multi-class run); the multi-label files are written straight into a "
                   "folder: choose another --out.\n")
    (tmp_path / "file").write_text("x")
    assert main(["analyze", str(path), "--multi-label", "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.endswith("file: is a file: name a folder.\n")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- the sample


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "out"
    assert main(["analyze", "--sample", "digits_tags", "--out", str(out)]) == 0
    return out


def test_the_sample_round_trip(sample_run):
    sample = load_multilabel_sample("digits_tags")
    choice = choose_multilabel_model(sample.frame[sample.feature_columns], sample.labels)
    est = estimate_multilabel(sample.labels, choice.pred_probs)
    issues = pd.read_csv(sample_run / "label_issues.csv")
    assert sorted(issues["id"].tolist()) == np.flatnonzero(est.is_issue).tolist()
    summary = json.loads((sample_run / "summary.json").read_text())
    assert summary["model"]["chosen"] == choice.chosen
    assert summary["class_names"] == sample.class_names
    cleaned = read_table(sample_run / "digits_tags_cleaned.csv")
    after = parse_delimited(cleaned, "label", class_names=sample.class_names).labels
    np.testing.assert_array_equal(after, suggested_tags(sample.labels, est.issues))
    source = (Path(__file__).resolve().parent.parent / "sample_datasets"
              / "digits_tags.csv").read_bytes().split(b"\n")
    written = (sample_run / "digits_tags_cleaned.csv").read_bytes().split(b"\n")
    unchanged = np.flatnonzero(~est.is_issue)
    assert all(written[i + 1] == source[i + 1] for i in unchanged)
