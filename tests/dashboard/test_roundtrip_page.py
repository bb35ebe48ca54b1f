"""The Review page's labelling-tool controls (#29) under AppTest: the tasks download, and a
verdict upload that becomes decisions (and a refused one that imports nothing)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import analysis as nl
from analysis.export.tasks import task_files
from analysis.review.findings import review_order
from analysis.review.store import ReviewStore

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def _env(tmp_path, app_env):
    app_env(tmp_path / "home")


def rendered(markdown: str) -> str:
    """The text a reader sees of escaped Markdown (backslash escapes resolved)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("app_pages/review_export.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_tasks_download_and_verdict_upload_on_the_review_page():
    at = _page()
    labels = [b.proto.label for b in at.get("download_button")]
    assert any(lab.startswith("Download ") and lab.endswith(" task(s)") for lab in labels), labels
    at.radio(key="tasks_order").set_value("next").run()
    at.number_input(key="tasks_rows").set_value(1797).run()
    assert not at.exception
    assert "Download 1,797 task(s)" in [b.proto.label for b in at.get("download_button")]
    at.radio(key="tasks_order").set_value("review").run()
    at.switch_page("app_pages/suspects.py")
    at.run()
    assert not at.exception
    assert any(b.proto.label.endswith(" task(s)") for b in at.get("download_button"))
    at.switch_page("app_pages/review_export.py")
    at.run()
    dataset = nl.from_sample("digits")
    store = ReviewStore(dataset)
    assert store.decisions().empty
    result = nl.analyze(dataset)
    rows = review_order(result, store.decisions())[:3]
    form = pd.read_csv(io.BytesIO(task_files(dataset, rows, result.suggested, result.scores,
                                             "csv")["tasks.csv"]), dtype=str,
                       keep_default_na=False)
    names = dataset.class_names
    given = [names[dataset.labels[r]] for r in rows]
    form["verdict"] = [given[0], names[result.suggested[rows[1]]], ""]
    form["annotator"] = "ann"
    at.file_uploader(key="verdicts_upload").set_value(
        ("done.csv", form.to_csv(index=False).encode(), "text/csv")).run()
    at.button(key="verdicts_import").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    d = ReviewStore(dataset).decisions().set_index("id")
    ids = [str(dataset.ids[r]) for r in rows]
    assert list(d.index) == ids[:2]
    assert list(d["action"]) == ["keep", "relabel"]
    assert d.loc[ids[1], "new_label"] == names[result.suggested[rows[1]]]
    said = rendered(at.success[0].value)
    assert said == ("2 new verdict(s) of 2 read; 2 decision(s): 1 relabel, 1 keep; 0 row(s) "
                    "where annotators disagree. Not decisions, set aside: 1 empty.")
    # a second annotator: the Annotators page shows the verdicts' agreement
    form["verdict"] = [given[0], given[1], ""]
    form["annotator"] = "bob"
    at.file_uploader(key="verdicts_upload").set_value(
        ("bob.csv", form.to_csv(index=False).encode(), "text/csv")).run()
    at.button(key="verdicts_import").click().run()
    assert not at.exception and not at.error
    # a tie on rows[1] (ann: suggested, bob: given): the model's probability decides
    at.switch_page("app_pages/annotators.py")
    at.run()
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["Verdict annotators"] == "2" and shown["Rows with verdicts"] == "2"
    at.switch_page("app_pages/review_export.py")
    at.run()
    before = ReviewStore(dataset).decisions()
    # another dataset's file: refused on the page, nothing more imported
    form["noiselens_dataset"] = "0" * 16
    form["verdict"] = [names[0]] * 3
    at.file_uploader(key="verdicts_upload").set_value(
        ("other.csv", form.to_csv(index=False).encode(), "text/csv")).run()
    at.button(key="verdicts_import").click().run()
    assert rendered(at.error[0].value).startswith(
        "**Not imported.** other.csv holds the tasks of another dataset (noiselens_dataset "
        "'0000000000000000'; sample 'digits' is ")
    pd.testing.assert_frame_equal(ReviewStore(dataset).decisions(), before)
    assert list(ReviewStore(dataset).verdicts()["annotator"]) == ["ann", "ann", "bob", "bob"]
