"""The multi-label pages (#28) under AppTest: ``noiselens dashboard --sample digits_tags``
(and ``--multi-label --data FILE``) opens Overview, Suspects and Export; the numbers on the
pages are the analysis package's; class names that look like markup are shown as text."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.core.multilabel import tag_issue_sentences, tag_issue_table
from analysis.data.multilabel import tag_changes
from analysis.multilabel_pipeline import analyze_multilabel
from dashboard import multilabel_cli
from dashboard.text import md

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
SAMPLE_ARGV = ["app.py", "--sample", "digits_tags"]
#: Class names a Markdown or HTML renderer would take for markup.
HOSTILE = ["<b>bold</b>", "*x*", "[link](http://example.com)", "a=b"]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("noiselens_home_ml")


@pytest.fixture(scope="module")
def tags_result():
    """The analysis the pages show for ``--sample digits_tags``, from the package."""
    from dashboard.ml_compute import MultilabelSource
    from dashboard.session import launch_options

    source = MultilabelSource.from_options(launch_options(SAMPLE_ARGV[1:]),
                                           "prune_by_noise_rate")
    kwargs = source.inputs()
    return analyze_multilabel(kwargs.pop("data"), **kwargs)


def open_ml(monkeypatch, app_env, home, page: str = "ml_overview", argv=None, **params):
    app_env(home)
    monkeypatch.setattr(sys, "argv", list(argv or SAMPLE_ARGV))
    at = AppTest.from_file(APP, default_timeout=240)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page != "ml_overview":
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def rendered(markdown: str) -> str:
    """What a reader sees of escaped Markdown (backslash escapes resolved, joiners dropped)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_overview_numbers_equal_the_analysis(monkeypatch, app_env, home, tags_result):
    at = open_ml(monkeypatch, app_env, home)
    h = tags_result.health
    assert at.title[0].value == "Tag health"
    assert metric(at, "Rows") == f"{h['rows']:,}" == "1,797"
    assert metric(at, "Classes") == "4"
    assert metric(at, "Tags per row") == f"{tags_result.labels.sum(axis=1).mean():.2f}"
    assert metric(at, "Tag health") == f"{h['health_score']:.3f}"
    assert metric(at, "Flagged rows") == f"{h['flagged_rows']:,}"
    assert metric(at, "Tags missing / extra") == f"{h['tags_missing']:,} / {h['tags_extra']:,}"
    per_class = next(d.value for d in at.dataframe if "missing_rate_low" in d.value)
    pd.testing.assert_frame_equal(per_class.reset_index(drop=True), tags_result.per_class())
    common = next(d.value for d in at.dataframe if "share_of_rows" in d.value)
    pd.testing.assert_frame_equal(common.reset_index(drop=True), tags_result.common_issues())
    # the navigation holds the multi-label pages only
    assert at.sidebar.selectbox(key="ml_filter_by").value == "prune_by_noise_rate"


def test_overview_filter_changes_the_flagged_rows(monkeypatch, app_env, home, tags_result):
    at = open_ml(monkeypatch, app_env, home)
    at.sidebar.selectbox(key="ml_filter_by").set_value("predicted_neq_given").run()
    assert not at.exception
    from dashboard.ml_compute import MultilabelSource
    from dashboard.session import launch_options

    kwargs = MultilabelSource.from_options(launch_options(SAMPLE_ARGV[1:]),
                                           "predicted_neq_given").inputs()
    kwargs["pred_probs"] = tags_result.pred_probs  # the same model: only the filter differs
    other = analyze_multilabel(kwargs.pop("data"), **kwargs)
    assert metric(at, "Flagged rows") == f"{other.health['flagged_rows']:,}"
    assert other.health["flagged_rows"] != tags_result.health["flagged_rows"]
    assert at.query_params["filter"] == "predicted_neq_given"


def test_suspects_ranking_detail_and_sentences(monkeypatch, app_env, home, tags_result):
    at = open_ml(monkeypatch, app_env, home, "ml_suspects")
    table = tags_result.issue_table()
    shown = next(d.value for d in at.dataframe if "suggested tags" in d.value)
    assert list(shown["id"]) == list(table["id"].astype(str))
    np.testing.assert_array_equal(shown["score"].to_numpy(), table["score"].to_numpy())
    assert list(shown["given tags"]) == [", ".join(t) or "—" for t in table["given_tags"]]
    assert list(shown["suggested tags"]) == [", ".join(t) or "—"
                                             for t in table["suggested_tags"]]
    # the first row in detail: its sentences, its probabilities
    row = int(table["row"].iloc[0])
    assert at.query_params["id"] == str(table["id"].iloc[0])
    assert at.subheader[0].value == f"Row {md(tags_result.ids[row])}"
    cells = tag_issue_table(tags_result.labels, tags_result.pred_probs,
                            tags_result.estimate.issues)
    sentences = tag_issue_sentences(cells, tags_result.class_names, row)
    assert sentences and all(re.fullmatch(r"'\w+' looks (missing|extra): \d\.\d\d", s)
                             for s in sentences)
    bullets = [rendered(m.value)[2:] for m in at.markdown if m.value.startswith("- ")]
    assert bullets == sentences
    probs = next(d.value for d in at.dataframe if "probability" in d.value)
    np.testing.assert_array_equal(probs["probability"].to_numpy(), tags_result.pred_probs[row])
    assert list(probs["given"]) == list(tags_result.labels[row].astype(bool))
    assert len(at.get("image")) == 1  # the digit's pixels


def test_suspects_row_from_the_url_and_filters(monkeypatch, app_env, home, tags_result):
    table = tags_result.issue_table()
    pick = table.iloc[5]
    at = open_ml(monkeypatch, app_env, home, "ml_suspects", id=str(pick["id"]))
    assert at.subheader[0].value == f"Row {md(pick['id'])}"
    at.button(key="ml_next").click().run()
    assert at.subheader[0].value == f"Row {md(table['id'].iloc[6])}"
    assert at.query_params["id"] == str(table["id"].iloc[6])
    shown = next(d.value for d in at.dataframe if "suggested tags" in d.value)
    assert list(shown[""]).index("▶") == 6 and list(shown[""]).count("▶") == 1
    at.button(key="ml_prev").click().run()
    assert at.subheader[0].value == f"Row {md(pick['id'])}"
    loop = tags_result.class_names.index("loop")
    at.multiselect(key="ml_suspect_classes").set_value([loop]).run()
    at.radio(key="ml_suspect_kind").set_value("missing").run()
    shown = next(d.value for d in at.dataframe if "suggested tags" in d.value)
    rows = table["row"].to_numpy()
    keep = tags_result.missing_tags[rows, loop]
    assert list(shown["id"]) == list(table["id"][keep].astype(str))
    assert keep.sum() == tags_result.health["common_issues"]["count"][0]  # loop missing: 1st


def test_export_writes_the_cleaned_split_and_changes(monkeypatch, app_env, home, tags_result,
                                                     tmp_path):
    at = open_ml(monkeypatch, app_env, home, "ml_export")
    at.radio(key="ml_export_mode").set_value("suggestions").run()
    changes = tag_changes(tags_result.labels, tags_result.suggested, tags_result.class_names)
    assert len(changes) == tags_result.health["flagged_rows"]
    shown = next(d.value for d in at.dataframe if "added" in d.value)
    assert list(shown["row"]) == [c["row"] for c in changes]
    at.button(key="ml_export_go").click().run()
    assert not at.exception and not at.error
    folder = home / "exports" / "digits_tags_multilabel"
    expected = multilabel_cli.write_outputs(tags_result, tmp_path / "ref", clean="suggestions")
    for path in expected:
        written = folder / path.name
        assert written.is_file(), path.name
        if path.name != "summary.json":
            assert written.read_bytes() == path.read_bytes(), path.name
    cleaned = pd.read_csv(folder / "digits_tags_cleaned.csv", dtype=str, keep_default_na=False)
    original = pd.read_csv(tags_result.path, dtype=str, keep_default_na=False)
    differ = np.flatnonzero(cleaned["label"].to_numpy() != original["label"].to_numpy())
    assert differ.tolist() == [c["row"] for c in changes]
    assert cleaned.drop(columns="label").equals(original.drop(columns="label"))
    downloads = at.get("download_button")
    assert len(downloads) == len(expected)


def _hostile_csv(path: Path) -> Path:
    """Tags whose names are markup, with their probabilities (no model fit)."""
    rng = np.random.default_rng(3)
    n = 120
    truth = rng.random((n, len(HOSTILE))) < 0.4
    given = truth.copy()
    flip = rng.random(truth.shape) < 0.08
    given[flip] = ~given[flip]
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(n)],
                          "label": ["|".join(c for c, t in zip(HOSTILE, g, strict=True) if t)
                                    for g in given]})
    for k, name in enumerate(HOSTILE):
        frame[f"pred_prob_{name}"] = np.clip(truth[:, k] * 0.9 + rng.random(n) * 0.1, 0, 1)
    frame.to_csv(path, index=False)
    return path


def test_markup_class_names_are_text(monkeypatch, app_env, home, tmp_path):
    path = _hostile_csv(tmp_path / "tags.csv")
    argv = ["app.py", "--multi-label", "--data", str(path)]
    result = analyze_multilabel(path)
    assert result.class_names == sorted(HOSTILE) or set(result.class_names) == set(HOSTILE)
    table = result.issue_table()
    assert not table.empty
    at = open_ml(monkeypatch, app_env, home, "ml_suspects", argv=argv)
    texts = [m.value for m in at.markdown] + [s.value for s in at.subheader]
    for value in texts:  # no raw markup in anything Markdown renders
        assert "<b>" not in value and "*x*" not in value and "](http" not in value
    shown = "\n".join(rendered(t) for t in texts)
    row = int(table["row"].iloc[0])
    cells = tag_issue_table(result.labels, result.pred_probs, result.estimate.issues)
    for sentence in tag_issue_sentences(cells, result.class_names, row):
        assert sentence in shown  # read back as written
    assert any(name in shown for name in HOSTILE)
    for page in ("ml_overview", "ml_export"):
        at.switch_page(f"app_pages/{page}.py")
        at.run()
        assert not at.exception and not at.error
        for m in at.markdown:
            assert "<b>" not in m.value and "*x*" not in m.value


def test_multilabel_launch_problems_are_said(monkeypatch, app_env, home, tmp_path):
    app_env(home)
    monkeypatch.setattr(sys, "argv", ["app.py", "--sample", "digits_tags", "--multi-label",
                                      "--data", str(tmp_path / "x.csv")])
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert [rendered(e.value) for e in at.error] == [
        "**The multi-label pages cannot open.** give one data file (--data FILE) or --sample "
        "NAME, not both and not neither."]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\n1,a|b\n1,b\n")
    monkeypatch.setattr(sys, "argv", ["app.py", "--multi-label", "--data", str(bad)])
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert "repeats id '1'" in rendered(at.error[0].value)


def test_launcher_passes_the_multilabel_flags():
    from dashboard.cli import build_parser
    from dashboard.launch import streamlit_command
    from dashboard.session import launch_options

    args, extra = build_parser().parse_known_args(
        ["dashboard", "--multi-label", "--data", "t.csv", "--label-cols", "a,b",
         "--label-sep=-;"])
    cmd = streamlit_command(args, extra)
    app_args = cmd[cmd.index("--") + 1:]
    assert "--multi-label" in app_args and "--label-cols=a,b" in app_args
    assert "--label-sep=-;" in app_args
    parsed = launch_options(app_args)
    assert parsed.multi_label and parsed.label_cols == "a,b" and parsed.label_sep == "-;"
    args, extra = build_parser().parse_known_args(["dashboard", "--sample", "digits_tags"])
    cmd = streamlit_command(args, extra)
    assert cmd[cmd.index("--") + 1:] == ["--sample=digits_tags"]
    assert launch_options(["--sample=digits_tags"]).sample == "digits_tags"
    # the single-label launch is unchanged
    args, extra = build_parser().parse_known_args(["dashboard"])
    assert "--" not in streamlit_command(args, extra)




def test_review_decisions_and_the_reviewed_export(monkeypatch, app_env, home, tags_result):
    from analysis.review.multilabel import decode_tags, encode_tags
    from analysis.review.store import ReviewStore

    table = tags_result.issue_table()
    names = tags_result.class_names
    first, second, third = (table.iloc[i] for i in range(3))
    at = open_ml(monkeypatch, app_env, home, "ml_suspects", id=str(first["id"]))
    at.button(key="ml_accept").click().run()
    store = ReviewStore("multilabel:sample:digits_tags")
    assert decode_tags(store.get(first["id"])["new_label"], names) == first["suggested_tags"]
    # the second row: one tag added to its given tags
    at.query_params["id"] = str(second["id"])
    at.run()
    lacking = [c for c in names if c not in second["given_tags"]][0]
    at.selectbox(key=f"ml_add:{second['id']}").set_value(lacking).run()
    at.button(key="ml_add_go").click().run()
    assert not at.exception
    added = decode_tags(store.get(second["id"])["new_label"], names)
    assert added == [c for c in names if c in [*second["given_tags"], lacking]]
    shown = next(d.value for d in at.dataframe if "review" in d.value)
    assert shown["review"].iloc[1] == "tags: " + ", ".join(added)
    # then one removed from that decided set
    at.selectbox(key=f"ml_drop:{second['id']}").set_value(added[0]).run()
    at.button(key="ml_drop_go").click().run()
    assert decode_tags(store.get(second["id"])["new_label"], names) == added[1:]
    at.button(key="ml_undo").click().run()
    assert decode_tags(store.get(second["id"])["new_label"], names) == added
    # the third row removed
    at.query_params["id"] = str(third["id"])
    at.run()
    at.button(key="ml_remove").click().run()
    assert store.get(third["id"])["action"] == "remove"
    assert store.decisions()["new_label"].iloc[0] == encode_tags(first["suggested_tags"])

    at.switch_page("app_pages/ml_export.py")
    at.run()
    assert at.radio(key="ml_export_mode").value == "reviewed"
    at.button(key="ml_export_go").click().run()
    assert not at.exception and not at.error
    folder = home / "exports" / "digits_tags_multilabel"
    cleaned = pd.read_csv(folder / "digits_tags_reviewed.csv", dtype=str, keep_default_na=False)
    original = pd.read_csv(tags_result.path, dtype=str, keep_default_na=False)
    assert len(cleaned) == len(original) - 1
    assert str(third["id"]) not in set(cleaned["id"])
    by_id = cleaned.set_index("id")["label"]
    assert by_id[str(first["id"])] == "|".join(first["suggested_tags"])
    assert by_id[str(second["id"])] == "|".join(added)
    untouched = original[~original["id"].isin([str(v) for v in (first["id"], second["id"],
                                                                 third["id"])])]
    assert by_id[untouched["id"]].tolist() == untouched["label"].tolist()
    changes = pd.read_csv(folder / "tag_changes.csv", dtype=str, keep_default_na=False)
    assert sorted(changes["id"]) == sorted([str(first["id"]), str(second["id"])])
    removed = pd.read_csv(folder / "removed_rows.csv", dtype=str)
    assert removed["id"].tolist() == [str(third["id"])]
    store.clear(store.decisions()["id"].tolist())
