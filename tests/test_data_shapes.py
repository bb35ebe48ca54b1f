"""Data shapes a user brings (#14): image folders, class order, the fingerprint, audits chosen
by the detector, and the noise-matrix cells that add up. Each checked against a slow loop
written from the definition."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import shapes

import analysis as nl
from analysis.data.dataset import DataError, check_class_order, load_dataset, read_class_names
from analysis.review.evaluate import MIN_AUDITED_UNFLAGGED, audit_design
from dashboard import selection


# -- the fingerprint ------------------------------------------------------------------------
def test_fingerprint_sees_true_labels_and_annotators():
    base = pd.DataFrame({"x": np.arange(8.0), "label": list("aabbaabb")})
    audited = base.assign(true_label=["a", "", "b", "", "", "", "", ""])
    audited2 = base.assign(true_label=["a", "", "a", "", "", "", "", ""])
    rated = base.assign(annotator_1=list("aabbaabb"))
    rated2 = base.assign(annotator_1=list("aabbaaba"))
    prints = [nl.from_frame(f).fingerprint for f in (base, audited, audited2, rated, rated2)]
    assert len(set(prints)) == 5
    assert nl.from_frame(audited).fingerprint == nl.from_frame(audited.copy()).fingerprint


# -- image folders ---------------------------------------------------------------------------
def test_image_folder_labels_ids_and_pixels(tmp_path):
    from PIL import Image

    root = shapes.digits_image_folder(tmp_path, limit=40)
    ds = load_dataset(root)
    # the reference: walk the folder by hand
    files = sorted(p for p in root.rglob("*.png"))
    assert list(ds.ids) == [p.relative_to(root).as_posix() for p in files]
    assert [ds.class_names[v] for v in ds.labels] == [p.parent.name for p in files]
    assert ds.embeddings_from == "pixels" and ds.embeddings.shape == (40, 3 * 16 * 16)
    for r in (0, 17, 39):
        with Image.open(files[r]) as im:
            want = np.asarray(im.convert("RGB").resize((16, 16), Image.Resampling.BILINEAR),
                              dtype=np.float32).reshape(-1) / 255
        np.testing.assert_array_equal(ds.embeddings[r], want)
        assert ds.image_path(r) == files[r].resolve()


def test_image_folder_bad_layouts_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_dataset(tmp_path / "empty")
    loose = tmp_path / "loose"
    shapes.digits_image_folder(loose, limit=6)
    (loose / "digits_png" / "stray.png").write_bytes((loose / "digits_png").joinpath(
        next(p.relative_to(loose / "digits_png") for p in (loose / "digits_png").rglob(
            "*.png"))).read_bytes())
    with pytest.raises(DataError, match="lie directly in the folder.*stray.png"):
        load_dataset(loose / "digits_png")
    bad = tmp_path / "bad"
    (bad / "a").mkdir(parents=True)
    (bad / "b").mkdir()
    for name in ("a/1.png", "a/2.png", "b/3.png", "b/4.png"):
        (bad / name).write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cannot read image .*1\.png \(row 0\)"):
        load_dataset(bad)


def test_cli_analyze_opens_an_image_folder(tmp_path, monkeypatch):
    from dashboard.cli import main

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "home"))
    root = shapes.digits_image_folder(tmp_path, limit=120)
    assert main(["analyze", str(root), "--detector", "confident_learning", "--out",
                 str(tmp_path / "out")]) == 0
    issues = pd.read_csv(tmp_path / "out" / "label_issues.csv", dtype=str)
    assert issues["id"].str.endswith(".png").all()


# -- class order -----------------------------------------------------------------------------
def _brute_force_best(labels, probs) -> float:
    k = probs.shape[1]
    top = probs.argmax(axis=1)
    best = 0
    for perm in itertools.permutations(range(k)):  # perm[c] = column of class c
        best = max(best, sum(1 for y, t in zip(labels, top, strict=True) if perm[y] == t))
    return best / len(labels)


@pytest.mark.parametrize("seed", range(4))
def test_class_order_best_agreement_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, 60)
    probs = rng.dirichlet(np.ones(5), 60)
    probs[np.arange(60), rng.permutation(5)[labels]] += rng.random(60)
    order = check_class_order(labels, probs / probs.sum(1, keepdims=True), list("abcde"))
    assert order.best == pytest.approx(_brute_force_best(labels, probs))
    assert order.assumed == pytest.approx(np.mean(probs.argmax(1) == labels))
    assert order.best >= order.assumed


def test_wrong_column_order_is_warned_and_classes_fixes_it(tmp_path, capsys, monkeypatch):
    csv, npy, names_file = shapes.many_classes(tmp_path, 12, 600)
    sorted_order = load_dataset(csv, pred_probs=npy)
    assert sorted_order.class_names[:3] == ["c0", "c1", "c10"]
    check = sorted_order.class_order
    assert check.suspicious and check.best > 0.8 > 0.5 > check.assumed
    # the best matching recovers the model's order: class 'c10' is column 10
    assert check.mapping[sorted_order.class_names.index("c10")] == 10
    assert "may not be in the order" in check.message()
    given = load_dataset(csv, pred_probs=npy, classes=names_file)
    assert given.class_names == read_class_names(names_file) == [f"c{i}" for i in range(12)]
    assert not given.class_order.suspicious
    assert given.class_order.assumed == pytest.approx(check.best)
    # the CLI says so on stderr, and takes --class-names
    from dashboard.cli import main

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "home"))
    assert main(["analyze", str(csv), "--pred-probs", str(npy), "--out",
                 str(tmp_path / "o1")]) == 0
    assert "may not be in the order of the classes" in capsys.readouterr().err
    assert main(["analyze", str(csv), "--pred-probs", str(npy), "--class-names",
                 str(names_file), "--out", str(tmp_path / "o2")]) == 0
    assert "may not be in the order" not in capsys.readouterr().err


def test_dashboard_command_passes_the_data_flags(tmp_path):
    from dashboard.cli import build_parser
    from dashboard.launch import streamlit_command

    args, extra = build_parser().parse_known_args([
        "dashboard", "--data", str(tmp_path), "--label-col", "y", "--id-col", "uid",
        "--text-col", "body", "--pred-probs", "p.npy", "--embeddings", "e.npy",
        "--class-names", "names.txt"])
    cmd = streamlit_command(args, extra)
    app = cmd[cmd.index("--") + 1:]
    from dashboard.session import launch_options

    opts = launch_options(app)
    assert (opts.data, opts.label_col, opts.id_col, opts.text_col) == (
        str(tmp_path.resolve()), "y", "uid", "body")
    for name in ("pred_probs", "embeddings", "class_names"):
        assert getattr(opts, name).startswith(str(tmp_path.anchor))  # made absolute
    assert opts.pred_probs.endswith("p.npy") and opts.class_names.endswith("names.txt")


# -- audits chosen by the detector -------------------------------------------------------------
def test_audit_design_counts_and_estimates_equal_a_loop(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    result = nl.analyze(load_dataset(shapes.digits_probabilities_only(tmp_path, audited=True)))
    d = audit_design(result)
    truth, labels, flag = result.dataset.true_labels, result.labels, result.is_issue
    af = au = wf = wu = 0
    for t, y, f in zip(truth, labels, flag, strict=True):
        if t < 0:
            continue
        if f:
            af += 1
            wf += t != y
        else:
            au += 1
            wu += t != y
    assert (d.audited_flagged, d.audited_unflagged, d.wrong_flagged, d.wrong_unflagged) == (
        af, au, wf, wu)
    assert d.follows_the_detector and d.coverage_flagged > 3 * d.coverage_unflagged
    assert d.precision == pytest.approx(wf / af)
    assert au >= MIN_AUDITED_UNFLAGGED
    found = wf / af * flag.sum()
    missed = wu / au * (~flag).sum()
    assert d.recall == pytest.approx(found / (found + missed))
    # a random audit (every third row) is not called biased
    from types import SimpleNamespace

    every_third = np.where(np.arange(len(labels)) % 3 == 0, result.dataset.true_labels.clip(0),
                           -1)
    fake = SimpleNamespace(dataset=SimpleNamespace(true_labels=every_third, source="x"),
                           labels=labels, is_issue=flag)
    assert not audit_design(fake).follows_the_detector


# -- the noise matrix adds up ------------------------------------------------------------------
def test_cells_reach_every_row_and_every_flagged_row(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    result = nl.analyze(load_dataset(shapes.digits_probabilities_only(tmp_path)))
    k = len(result.class_names)
    counts = selection.cell_counts(result.labels, result.estimated_true, k)
    assert counts.shape == (k, k + 1) and counts.sum() == len(result.labels)
    seen = np.zeros(len(result.labels), int)
    for i in range(k):
        for j in range(k + 1):
            rows = selection.cell_rows(result, i, j)
            assert len(rows) == counts[i, j]  # the number shown = the rows listed
            seen[rows] += 1
            scores = result.scores[rows]
            assert np.all(np.diff(scores) >= 0)
    assert np.all(seen == 1)  # every row, hence every flagged row, in exactly one cell
    bucket = selection.suspect_rows(result, cell=(3, k))
    assert set(bucket) == set(np.flatnonzero(result.is_issue & (result.labels == 3)
                                             & (result.estimated_true < 0)))
    assert selection.parse_cell(f"3-{k}", k, bucket=True) == (3, k)
    assert selection.parse_cell(f"3-{k}", k) is None


def test_confused_classes_keep_confused_pairs_together():
    rng = np.random.default_rng(0)
    k = 60
    counts = np.diag(rng.integers(50, 100, k)).astype(float)
    pairs = [(5, 41), (12, 30), (7, 8), (50, 2)]
    for a, b in pairs:
        counts[a, b] = 20
        counts[b, a] = 9
    order = list(selection.confused_classes(counts, 10))
    assert len(order) == 10 == len(set(order))
    for a, b in pairs:
        assert abs(order.index(a) - order.index(b)) == 1
    # fewer classes than the limit: all of them, once
    assert sorted(selection.confused_classes(counts[:4, :4], 25)) == [0, 1, 2, 3]
