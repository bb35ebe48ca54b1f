"""Every page under streamlit's AppTest: runs clean, shows the analysis package's numbers,
and reacts to the method and filters as it should."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import analysis as nl

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PAGES = ["overview", "noise_matrix", "embedding_map", "suspects", "review_export", "annotators",
         "evaluate"]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("noiselens_home")


@pytest.fixture(autouse=True)
def _env(home, app_env):
    app_env(home)


@pytest.fixture(scope="module")
def digits(home):
    import os

    old = os.environ.get("NOISELENS_HOME")
    os.environ["NOISELENS_HOME"] = str(home)
    try:
        return nl.analyze(nl.from_sample("digits"), detector="confident_learning")
    finally:
        if old is None:
            del os.environ["NOISELENS_HOME"]
        else:
            os.environ["NOISELENS_HOME"] = old


def open_page(page: str, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page != "overview":
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def go(at: AppTest, page: str, **params) -> None:
    """Move the same browser session to another page (with these query parameters)."""
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def rendered(markdown: str) -> str:
    """The text a reader sees of Markdown that escapes dataset text (backslash escapes
    resolved, invisible word joiners dropped)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def frame_ids(at: AppTest) -> list[str]:
    """The ids of the first table of rows on the page."""
    table = next(df.value for df in at.dataframe if "id" in df.value)
    return list(table["id"].astype(str))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_the_default_sample(page, digits):
    at = open_page(page)
    assert not at.error, [e.value for e in at.error]
    titles = {"overview": "Label health", "noise_matrix": "Noise matrix",
              "embedding_map": "Embedding map", "suspects": "Suspects",
              "review_export": "Review & export", "annotators": "Annotators",
              "evaluate": "Evaluate"}
    assert at.title[0].value == titles[page]


def test_overview_numbers_equal_the_analysis(digits):
    at = open_page("overview")
    assert metric(at, "Rows") == "1,797"
    assert metric(at, "Classes") == "10"
    assert metric(at, "Label health") == f"{digits.health:.1f} / 100"
    n = len(digits.labels)
    assert metric(at, "Estimated wrong labels") == (
        f"{int(round(n * digits.estimate.estimated_error_fraction)):,}")
    assert metric(at, "Flagged for review") == f"{digits.num_issues:,}"
    # the first confused pair shown is the analysis's first pair
    pair = digits.pairs().iloc[0]
    assert any(f"{pair['given_name']} → really {pair['true_name']}" in m.value
               for m in at.markdown)
    # every decision of the automatic model, as plain text (#26)
    assert digits.model is not None and "hist_gb" in "\n".join(digits.model["summary"])
    shown = [e for e in at.expander if e.label == "How the model was chosen"]
    assert [t.value for t in shown[0].text] == ["\n".join(digits.model["summary"])]


def test_changing_the_filter_changes_the_flagged_count(digits):
    at = open_page("overview")
    at.sidebar.selectbox(key="filter_by").set_value("predicted_neq_given").run()
    assert not at.exception
    expected = digits.with_methods("predicted_neq_given").num_issues
    assert metric(at, "Flagged for review") == f"{expected:,}"
    assert at.query_params["filter"] == "predicted_neq_given"


def test_noise_matrix_cell_from_the_url_lists_its_rows(digits):
    pair = digits.pairs().iloc[0]
    i, j = int(pair["given"]), int(pair["true"])
    at = open_page("noise_matrix", cell=f"{i}-{j}")
    assert at.subheader[0].value == (
        f"Given '{digits.class_names[i]}', estimated true '{digits.class_names[j]}'")
    expected = [str(v) for v in np.asarray(digits.dataset.ids)[digits.cell(i, j)]]
    assert frame_ids(at) == expected
    # a stale or malformed cell is ignored, not a crash
    at = open_page("noise_matrix", cell="99-1")
    assert not at.subheader


def _map_selection(digits) -> list[int]:
    """A lasso's worth of rows: a few flagged among many unflagged, not in score order."""
    rng = np.random.default_rng(7)
    flagged = np.flatnonzero(digits.is_issue)
    clean = np.flatnonzero(~digits.is_issue)
    return rng.permutation(np.concatenate([flagged[:5], clean[::60]])).tolist()


def test_embedding_map_selection_numbers_and_order(digits, monkeypatch):
    """AppTest cannot lasso: the page's selection event is replaced by known rows; what the
    page states about them is checked against the package."""
    from dashboard import selection

    rows = _map_selection(digits)
    seen = []

    def lassoed(event):
        seen.append(event)
        return list(rows)

    monkeypatch.setattr(selection, "rows_from_event", lassoed)
    at = open_page("embedding_map")
    assert seen, "the page did not read the selection"
    assert not at.error, [e.value for e in at.error]
    # by hand from the package: lowest score first (ties as selected), unflagged not counted
    order = sorted(range(len(rows)), key=lambda t: (float(digits.scores[rows[t]]), t))
    expected = [rows[t] for t in order]
    flagged = sum(bool(digits.is_issue[r]) for r in rows)
    assert flagged == 5 and len(rows) - flagged > flagged
    assert expected != rows
    assert at.subheader[0].value == f"{len(rows):,} selected examples · {flagged:,} flagged"
    ids = np.asarray(digits.dataset.ids).astype(str)
    assert frame_ids(at) == [ids[r] for r in expected]
    assert at.session_state["map_selection"].tolist() == expected
    accept = at.button(key="accept-map")
    assert accept.label == f"Accept these {flagged:,} suggestions…"
    # "Review the selection on the Suspects page": the flagged rows of the selection, ranked
    at.query_params["from"] = "map"
    at.switch_page("app_pages/suspects.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"Showing the {len(rows):,} examples selected" in i.value for i in at.info)
    chosen = set(rows)
    assert frame_ids(at) == [ids[r] for r in digits.ranked if r in chosen]


def test_suspects_table_is_the_ranking_and_filters_apply(digits):
    at = open_page("suspects")
    ids = np.asarray(digits.dataset.ids).astype(str)
    assert frame_ids(at) == list(ids[digits.ranked])
    # the detail shows the first suspect and the URL names it
    assert at.query_params["id"] == ids[digits.ranked[0]]
    # class filter: only rows given those classes, in the same order
    at.multiselect(key="suspect_classes").set_value([1, 9]).run()
    keep = digits.ranked[np.isin(digits.labels[digits.ranked], [1, 9])]
    assert frame_ids(at) == list(ids[keep])
    # threshold
    at.slider(key="suspect_threshold").set_value(0.2).run()
    keep = keep[digits.scores[keep] <= 0.2]
    assert frame_ids(at) == list(ids[keep])


def test_suspects_next_walks_the_list(digits):
    at = open_page("suspects")
    ids = np.asarray(digits.dataset.ids).astype(str)
    at.button(key="next").click().run()
    assert at.query_params["id"] == ids[digits.ranked[1]]
    at.button(key="next").click().run()
    at.button(key="prev").click().run()
    assert at.query_params["id"] == ids[digits.ranked[1]]


def test_suspects_ranking_method_changes_the_order(digits):
    at = open_page("suspects")
    at.sidebar.selectbox(key="rank_by").set_value("normalized_margin").run()
    other = digits.with_methods(rank_by="normalized_margin")
    ids = np.asarray(digits.dataset.ids).astype(str)
    assert frame_ids(at) == list(ids[other.ranked])
    assert list(ids[other.ranked]) != list(ids[digits.ranked])


def test_suspect_deep_link_opens_that_example(digits):
    ids = np.asarray(digits.dataset.ids).astype(str)
    target = ids[digits.ranked[5]]
    at = open_page("suspects", id=target)
    assert any(f"Example id {target} — given" in m.value for m in at.markdown)


def test_tabular_sample_and_a_csv_from_the_command_line(tmp_path, monkeypatch):
    at = open_page("suspects")
    at.sidebar.selectbox(key="sample_name").set_value("wine").run()
    assert not at.exception and not at.error
    assert at.query_params["sample"] == "wine"

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    frame["animal"] = np.where(frame["a"] > 0, "cat", "dog")
    frame.loc[:5, "animal"] = "dog"
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)
    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(path), "--label-col", "animal"])
    for page in PAGES:
        at = open_page(page)
        assert not at.error, [e.value for e in at.error]
    at = open_page("overview")
    assert metric(at, "Rows") == "120"


def test_bad_file_gets_a_message_not_a_traceback(tmp_path, monkeypatch):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "label": ["a", "a", "a", "b"]}).to_csv(
        path, index=False)
    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(path), "--label-col", "label"])
    at = open_page("overview")
    assert at.error
    message = rendered(at.error[0].value)
    assert "bad.csv" in message and "'b'" in message


def test_the_page_and_the_cli_write_the_same_export_set(digits, home, tmp_path, monkeypatch):
    """One export plan (#27): the Review page's export holds every file the CLI's does (the
    page used to write only the cleaned split, the change list, the report and the manifest)."""
    from analysis.review.store import ReviewStore
    from dashboard.cli import main

    monkeypatch.setattr(sys, "argv", ["app.py", "--export-dir", str(tmp_path / "export")])
    store = ReviewStore(digits.dataset, class_names=digits.class_names)
    store.clear(store.decisions()["id"].tolist())
    store.decide(str(digits.dataset.ids[digits.ranked[0]]), "remove")
    at = open_page("review_export")
    at.button(key="export_go").click().run()
    assert not at.exception and not at.error
    page = {p.name for p in (tmp_path / "export" / "digits").iterdir()}
    assert main(["analyze", "--sample", "digits", "--detector", "confident_learning",
                 "--out", str(tmp_path / "cli")]) == 0
    cli = {p.name for p in (tmp_path / "cli").iterdir()}
    assert page == cli, (page ^ cli)
    assert {"label_issues.csv", "issues.csv", "findings.json", "summary.json", "report.html",
            "manifest.json", "digits_cleaned.csv"} <= page


def test_decisions_persist_and_export_round_trips(digits, home, tmp_path, monkeypatch):
    from analysis.review.store import ReviewStore

    monkeypatch.setattr(sys, "argv", ["app.py", "--export-dir", str(tmp_path / "export")])

    store = ReviewStore(digits.dataset, class_names=digits.class_names)
    store.clear(store.decisions()["id"].tolist())
    ids = np.asarray(digits.dataset.ids).astype(str)
    first, second = digits.ranked[0], digits.ranked[1]
    at = open_page("suspects")
    at.button(key="suspect-accept").click().run()
    assert not at.exception
    # decided: the walk moved on to the next suspect
    assert at.query_params["id"] == ids[second]
    at.button(key="suspect-remove").click().run()
    # a fresh session (a refresh, another tab) reads the same decisions
    fresh = ReviewStore(digits.dataset)
    got = fresh.decisions().set_index("id")
    assert got.loc[ids[first], "action"] == "relabel"
    assert got.loc[ids[first], "new_label"] == digits.class_names[digits.suggested[first]]
    assert got.loc[ids[second], "action"] == "remove"
    suspects = at
    at = open_page("review_export")
    assert metric(at, "Relabelled") == "1" and metric(at, "Removed") == "1"
    at.button(key="export_go").click().run()
    assert not at.exception and not at.error
    cleaned = pd.read_csv(tmp_path / "export" / "digits" / "digits_cleaned.csv")
    assert len(cleaned) == len(ids) - 1
    assert str(ids[second]) not in set(cleaned["id"].astype(str))
    row = cleaned.loc[cleaned["id"].astype(str) == ids[first]].iloc[0]
    assert str(row["label"]) == digits.class_names[digits.suggested[first]]
    report = (tmp_path / "export" / "digits" / "report.html").read_text()
    assert "<svg" in report and len(report) > 10_000  # inline SVG since the #17 report
    # the dashboard's report carries the review's evidence, as the CLI's does
    assert "Reviewed 2 of" in report and "were real errors" in report
    # this page is another browser session: its Undo cannot take back the first one's step
    assert at.button(key="undo_last").disabled
    suspects.button(key="suspect-undo").click().run()
    assert not suspects.exception
    assert ReviewStore(digits.dataset).get(ids[second]) is None
    assert ReviewStore(digits.dataset).get(ids[first])["action"] == "relabel"


def test_undo_in_the_app_restores_the_whole_decision(digits, home, tmp_path, monkeypatch):
    """Single decisions with notes, a bulk step over them, then undo after undo (the Review
    page's button, then the Suspects page's), all in one browser session (undo is scoped to
    it): each undo gives back action, label and note, and the restored relabel exports."""
    from analysis.review.store import ReviewStore
    from dashboard import selection

    monkeypatch.setattr(sys, "argv", ["app.py", "--export-dir", str(tmp_path / "export")])
    store = ReviewStore(digits.dataset, class_names=digits.class_names)
    store.clear(store.decisions()["id"].tolist())
    ids = np.asarray(digits.dataset.ids).astype(str)
    names = [str(c) for c in digits.class_names]
    first, second = (int(r) for r in digits.ranked[:2])
    relabel = {"action": "relabel", "new_label": names[digits.suggested[first]],
               "note": "a 7 with a bar"}
    removal = {"action": "remove", "new_label": None, "note": "two digits in one"}

    at = open_page("suspects", id=ids[first])
    at.text_input(key=f"suspect-note-{ids[first]}").set_value(relabel["note"])
    at.button(key="suspect-accept").click().run()
    go(at, "suspects", id=ids[second])
    at.text_input(key=f"suspect-note-{ids[second]}").set_value(removal["note"])
    at.button(key="suspect-remove").click().run()
    assert not at.exception
    assert store.get(ids[first]) == relabel and store.get(ids[second]) == removal

    # one bulk step over both and more: accept the suggestions of a map selection
    rows = [first, second] + [r for r in _map_selection(digits) if r not in (first, second)]
    monkeypatch.setattr(selection, "rows_from_event", lambda event: list(rows))
    go(at, "embedding_map")
    at.button(key="accept-map").click().run()
    at.button(key="accept-map-yes").click().run()
    assert not at.exception
    bulk = [r for r in rows if digits.is_issue[r]]
    assert len(bulk) > 2 and len(store.decisions()) == len(bulk)
    assert store.get(ids[second]) == {
        "action": "relabel", "new_label": names[digits.suggested[second]],
        "note": "bulk: suggestions in the map selection"}

    go(at, "review_export")
    at.button(key="undo_last").click().run()
    assert not at.exception
    assert store.get(ids[first]) == relabel and store.get(ids[second]) == removal
    assert len(store.decisions()) == 2
    go(at, "suspects", id=ids[first])
    at.button(key="suspect-undo").click().run()
    assert not at.exception
    assert store.get(ids[first]) == relabel and store.get(ids[second]) is None

    at = open_page("review_export")
    assert metric(at, "Relabelled") == "1" and metric(at, "Removed") == "0"
    at.button(key="export_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    cleaned = pd.read_csv(tmp_path / "export" / "digits" / "digits_cleaned.csv")
    row = cleaned.loc[cleaned["id"].astype(str) == ids[first]].iloc[0]
    assert str(row["label"]) == relabel["new_label"]
    changes = pd.read_csv(tmp_path / "export" / "digits" / "digits_changes.csv", dtype=str)
    assert changes[["id", "action", "new_label", "note"]].values.tolist() == [
        [ids[first], "relabel", relabel["new_label"], relabel["note"]]]
    store.clear(store.decisions()["id"].tolist())  # the next tests start with no decision


@pytest.mark.parametrize("sample", ["digits", "wine", "breast_cancer", "digits_annotators"])
def test_evaluate_page_on_every_sample(sample, home):
    from analysis.export.split import apply_decisions, suggested_decisions
    from analysis.review import evaluate

    at = open_page("evaluate", sample=sample)
    assert not at.error, [e.value for e in at.error]
    result = nl.analyze(nl.from_sample(sample), detector="confident_learning")
    table = evaluate.detection_table(result)
    shown = at.dataframe[0].value
    assert list(shown["flagged"]) == list(table["flagged"])
    assert list(shown["true_errors"]) == list(table["true_errors"])
    at.button(key="retrain_go").click().run()
    assert not at.exception
    gain = next(m for m in at.metric if m.label == "Accuracy gain from cleaning")
    res = evaluate.retrain_check(
        nl.prepare_features(result.dataset.features), result.labels,
        apply_decisions(result.dataset, suggested_decisions(result),
                        base_labels=result.labels).labels,
        result.dataset.true_labels)
    assert gain.value == f"{100 * res.gain[0]:+.1f} points"


def test_annotators_page_numbers_and_consensus_switch(home):
    from analysis.annotators.agreement import agreement_summary, encode_ratings, weighted_vote

    at = open_page("annotators", sample="digits_annotators")
    assert not at.error
    ds = nl.from_sample("digits_annotators")
    ratings, _ = encode_ratings(ds.frame, ds.annotator_columns, ds.class_names)
    summary = agreement_summary(ratings, ds.class_names)
    assert metric(at, "Fleiss' κ") == f"{summary.fleiss_kappa:.3f}"
    assert metric(at, "Krippendorff's α") == f"{summary.krippendorff_alpha:.3f}"
    assert metric(at, "Annotators") == "5"
    # the lowest-consensus table lists the rows of lowest weighted-vote quality
    consensus = weighted_vote(ratings, ds.num_classes)
    rated = consensus.num_ratings >= 2
    order = np.flatnonzero(rated)[np.argsort(consensus.quality[rated], kind="stable")][:50]
    assert frame_ids(at) == [str(v) for v in np.asarray(ds.ids)[order]]
    # switching to the consensus re-analyses every page against it
    at.sidebar.toggle(key="use_consensus").set_value(True).run()
    at.switch_page("app_pages/overview.py").run()
    labels = np.where(consensus.labels >= 0, consensus.labels, ds.labels)
    expected = nl.analyze(ds, detector="confident_learning").with_labels(labels)
    assert metric(at, "Flagged for review") == f"{expected.num_issues:,}"
    assert at.query_params["consensus"] == "1"


def test_annotators_page_without_annotators_explains_itself():
    at = open_page("annotators")
    assert not at.error
    assert "no annotator columns" in at.info[0].value


def test_csv_with_annotator_columns_from_file_to_export(tmp_path, monkeypatch, team_csv):
    from analysis.review.store import ReviewStore

    path, frame = team_csv
    n = len(frame)
    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(path), "--label-col", "label",
                                      "--export-dir", str(tmp_path / "out")])
    at = open_page("annotators")
    assert not at.error, [e.value for e in at.error]
    at.button(key="consensus-accept").click().run()
    at.button(key="consensus-accept-yes").click().run()
    assert not at.exception
    ds = nl.load_dataset(path, "label")
    decisions = ReviewStore(ds.fingerprint).decisions()
    assert len(decisions) > 0 and set(decisions["action"]) == {"relabel"}
    at = open_page("review_export")
    at.button(key="export_go").click().run()
    assert not at.exception and not at.error
    cleaned = pd.read_csv(tmp_path / "out" / "team_upload" / "team_upload_cleaned.csv")
    assert len(cleaned) == n and list(cleaned.columns) == list(frame.columns)
    new = dict(zip(decisions["id"].astype(int), decisions["new_label"], strict=True))
    for i, label in enumerate(cleaned["label"]):
        assert label == new.get(i, frame["label"].iloc[i])


def test_the_export_folder_cannot_be_changed_from_the_page(home, tmp_path, monkeypatch):
    """The page offers no input that names a folder: a visitor cannot make the server write
    anywhere but the folder given at launch (issue: server safety)."""
    monkeypatch.setattr(sys, "argv", ["app.py", "--export-dir", str(tmp_path / "chosen")])
    at = open_page("review_export")
    assert not at.exception
    assert [t.key for t in at.text_input] == []  # no free-text path of any kind
    shown = rendered(" ".join(c.value for c in at.caption))
    assert str(tmp_path / "chosen" / "digits") in shown
    # a value smuggled into the session state under the old widget key changes nothing
    at.session_state["export_folder"] = str(tmp_path / "elsewhere")
    at.radio(key="export_mode").set_value("suggestions").run()
    at.button(key="export_go").click().run()
    assert not at.exception and not at.error
    assert (tmp_path / "chosen" / "digits" / "digits_cleaned.csv").is_file()
    assert not (tmp_path / "elsewhere").exists()


# -- data shapes (#14) ---------------------------------------------------------------------------
def test_two_files_in_one_server_never_share_results(tmp_path, monkeypatch):
    """cifar10.csv then cifar10_audited.csv (the same rows plus true labels for some) in one
    process: the second gets its own analysis, and Evaluate reads its audit."""
    import shapes

    plain = shapes.digits_probabilities_only(tmp_path)
    audited = shapes.digits_probabilities_only(tmp_path, audited=True)
    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(plain)])
    at = open_page("evaluate")
    assert any("needs known true labels" in i.value for i in at.info)
    # the same process, caches kept: the other file
    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(audited)])
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("app_pages/evaluate.py")
    at.run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    # the audit of (mostly) flagged rows: one warning, with the selection bias said once
    assert any("An audit of flagged rows only cannot measure recall" in rendered(w.value)
               for w in at.warning)
    known = int((nl.load_dataset(audited).true_labels >= 0).sum())
    assert any(f"True labels are known for {known:,} of 1,797 rows" in c.value
               for c in at.caption)


def test_an_upload_named_in_the_url_reopens_after_a_refresh(home, tmp_path):
    """A refresh is a new session with the same URL: the upload it names opens again."""
    import shapes

    from dashboard import session

    path = shapes.text_csv(tmp_path)
    ref = session.upload_ref(session.save_upload(path.read_bytes(), path.name))
    at = open_page("overview", upload=ref)
    assert metric(at, "Rows") == "240"
    assert ref in str(at.query_params["upload"])
    for page in ("suspects", "embedding_map"):  # moving on keeps it
        at.switch_page(f"app_pages/{page}.py")
        at.run()
        assert not at.exception and not at.error
    assert any("TF-IDF" in rendered(c.value) for c in at.caption)
    # a URL cannot name anything but a kept upload
    for bad in ("../../etc/passwd", f"{ref.split('/')[0]}/../x.csv", "0" * 24 + "/nope.csv"):
        assert session.upload_from_ref(bad) is None


def test_every_page_at_1000_classes(tmp_path, monkeypatch):
    import shapes

    csv, npy, names = shapes.many_classes(tmp_path, 1000, 5000)
    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(csv), "--pred-probs", str(npy),
                                      "--class-names", str(names)])
    for page in PAGES:
        at = open_page(page)
        assert not at.error, [e.value for e in at.error]
        assert not at.warning or all("order of the classes" not in w.value for w in at.warning)
    at = open_page("noise_matrix")
    shown = at.multiselect(key="matrix_classes").value
    assert len(shown) == 25 and len(set(shown)) == 25


@pytest.mark.parametrize("page", PAGES)
def test_probabilities_and_only_a_categorical_column(page, tmp_path, monkeypatch):
    """A model's probabilities plus a text column of few values (no numeric feature): the
    map, the neighbours and the retrain check work in the probabilities' space (this file
    raised 'the feature table has no numeric columns' on the map and under every suspect)."""
    rng = np.random.default_rng(1)
    n, names = 300, ["<b>bold</b>", "![x](y)", "=1+1", "plain"]
    truth = rng.integers(0, 4, n)
    given = np.where(rng.random(n) < 0.15, (truth + 1) % 4, truth)
    probs = rng.dirichlet(np.ones(4) * 0.3, n) * 0.4
    probs[np.arange(n), truth] += 0.6
    frame = pd.DataFrame({"id": range(n), "label": [names[g] for g in given],
                          "vendor": [["a", "b", "c"][i % 3] for i in range(n)]})
    for c, name in enumerate(names):
        frame[f"pred_prob_{name}"] = probs[:, c]
    path = tmp_path / "probs_vendor.csv"
    frame.to_csv(path, index=False)
    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(path), "--label-col", "label"])
    at = open_page(page)
    assert not at.error, [e.value for e in at.error]
    if page == "embedding_map":
        assert any("predicted probabilities" in rendered(c.value) for c in at.caption)
    if page == "suspects":
        assert any("nearest neighbours" in m.value for m in at.markdown)


def test_an_image_too_large_is_skipped_with_a_warning(tmp_path, monkeypatch):
    """A 30000 x 30000 PNG in an image folder (#25): the page names it and goes on (it was an
    uncaught DecompressionBombError)."""
    from tests.test_hostile import _image_folder

    root = _image_folder(tmp_path)
    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(root)])
    at = open_page("overview")
    assert not at.error, [e.value for e in at.error]
    warned = [rendered(w.value) for w in at.warning if "huge.png" in rendered(w.value)]
    assert warned == [f"images: image {root.resolve()}/a/huge.png is too large to decode: "
                      "Image size (900000000 pixels) exceeds limit of 178956970 pixels, could "
                      "be decompression bomb DOS attack. It was skipped. It is not part of the "
                      "data set."]
    assert metric(at, "Rows") == "12"


def test_a_class_without_its_probability_column_is_refused_on_the_page(tmp_path, monkeypatch):
    """#25: the pred_prob_* columns were taken as features and a model trained on them."""
    frame = pd.DataFrame({"x": np.arange(60.0), "label": ["a", "b", "d"] * 20,
                          "pred_prob_a": 0.5, "pred_prob_b": 0.5})
    path = tmp_path / "partial.csv"
    frame.to_csv(path, index=False)
    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(path), "--label-col", "label"])
    at = open_page("overview")
    assert [rendered(e.value) for e in at.error] == [
        "**This data cannot be analysed yet.** partial.csv: 2 pred_prob_<class> column(s) but "
        "no pred_prob_<class> column for 1 of the 3 classes of column 'label': 'd'. Each "
        "class needs its probability column, named exactly as the label (spaces and line "
        "breaks count); fix the labels or the column names, or name the columns with "
        "pred_prob_columns=."]
