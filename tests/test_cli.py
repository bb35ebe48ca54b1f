"""`noiselens analyze` end to end, and the HTML report's content and escaping."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import analysis as nl
from analysis.export.split import apply_decisions, suggested_decisions
from analysis.review.store import ReviewStore
from dashboard.cli import main


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


def _csv(tmp_path, n=150, name="mine.csv"):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    y = np.where(X[:, 0] > 0, "cat", "dog").astype(object)
    y[:8] = np.where(y[:8] == "cat", "dog", "cat")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.insert(0, "uid", [f"u{i}" for i in range(n)])
    frame["animal"] = y
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path, frame


def test_analyze_writes_every_output_and_they_agree(tmp_path, capsys):
    path, frame = _csv(tmp_path)
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--label-col", "animal", "--id-col", "uid",
                 "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["label_issues.csv", "per_class.csv", "noise_matrix.csv",
                            "confident_joint.csv", "summary.json", "report.html", "issues.csv",
                            "findings.json", "mine_cleaned.csv", "mine_changes.csv",
                            "manifest.json"])
    result = nl.analyze(nl.load_dataset(path, "animal", id_column="uid"))
    issues = pd.read_csv(out / "label_issues.csv")
    assert list(issues["id"]) == [str(v) for v in np.asarray(result.dataset.ids)[result.ranked]]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["flagged"] == result.num_issues
    assert summary["rows"] == 150
    assert summary["cleaning"]["decisions"] == "suggestions"
    cleaned = pd.read_csv(out / "mine_cleaned.csv")
    assert list(cleaned["uid"]) == list(frame["uid"])  # relabelled, nothing dropped
    # unreviewed: only the flagged rows whose suggestion the model gives >= 0.9 change (#25)
    sure = {str(result.dataset.ids[i]): result.class_names[result.suggested[i]]
            for i in np.flatnonzero(result.is_issue)
            if result.pred_probs[i, result.suggested[i]] >= 0.9}
    expected = [sure.get(u, a) for u, a in zip(frame["uid"], frame["animal"], strict=True)]
    assert list(cleaned["animal"]) == expected
    assert 0 < len(sure) < result.num_issues  # the case has rows on both sides
    manifest = json.loads((out / "manifest.json").read_text())
    unchanged = result.num_issues - len(sure)

    def rows(n: int) -> str:
        return f"{n} row{'s' if n != 1 else ''}"

    assert manifest["unreviewed"] == {
        "relabelled_without_review": len(sure), "flagged_label_unchanged": unchanged,
        "min_confidence": 0.9, "reviewed_by_a_person": False,
        "summary": f"relabelled without review: {rows(len(sure))} (the model at least 0.9 "
                   f"sure of the suggestion); flagged for review, label unchanged: "
                   f"{rows(unchanged)}. No person reviewed these changes."}
    changes = pd.read_csv(out / "mine_changes.csv")
    assert sorted(changes["id"]) == sorted(sure)
    assert set(changes["note"]) == {
        "relabelled without review: suggested by the combined detector (clean, fit again) "
        "(score <= 1, the model at least 0.9 sure of the suggestion)"}
    noise = pd.read_csv(out / "noise_matrix.csv", index_col=0)
    np.testing.assert_allclose(noise.to_numpy(), result.estimate.noise_matrix, rtol=1e-12)
    assert "wrote" in capsys.readouterr().out
    cleaned_by_suggestions = apply_decisions(result.dataset,
                                             suggested_decisions(result, min_confidence=0.9))
    assert_report_states_the_numbers((out / "report.html").read_text(encoding="utf-8"), result,
                                     cleaned_by_suggestions,
                                     unreviewed=manifest["unreviewed"]["summary"])


def test_analyze_uses_the_review_when_there_is_one(tmp_path):
    path, frame = _csv(tmp_path)
    ds = nl.load_dataset(path, "animal", id_column="uid")
    ReviewStore(ds.fingerprint).decide_many(["u3", "u5"], "remove")
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--label-col", "animal", "--id-col", "uid",
                 "--removed", "flag", "--format", "parquet", "--detector", "confident_learning",
                 "--out", str(out)]) == 0
    cleaned = pd.read_parquet(out / "mine_cleaned.parquet")
    assert len(cleaned) == 150
    assert list(cleaned.loc[cleaned["noiselens_removed"], "uid"]) == ["u3", "u5"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["method"]["decisions"] == "reviewed"
    assert manifest["counts"]["removed"] == 2


def test_bad_input_gives_a_message_and_exit_code_2(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": ["a", "a", "b"]}).to_csv(path, index=False)
    assert main(["analyze", str(path), "--label-col", "label", "--out",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "noiselens: error: bad.csv" in err and "'b'" in err
    assert main(["analyze", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.csv" in capsys.readouterr().err
    assert main(["analyze", "--out", str(tmp_path / "o")]) == 2
    assert main(["analyze", str(path), "--filter-by", "nope", "--out", str(tmp_path)]) == 2
    assert "--filter-by 'nope' is not one of" in capsys.readouterr().err


def test_console_script_runs_on_the_sample_offline(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "dashboard.cli", "analyze", "--sample", "wine",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == 178 and summary["flagged"] > 0


class _Report(HTMLParser):
    """The report's own text, by element: every ``<p>``, every heading and every card
    (``class="card"``: value ``.v`` and label ``.l``), whitespace collapsed. Scripts (the
    inlined plotly, 4.8 MB in which every integer below 1,000 appears) and styles are skipped,
    so a number is found only where the report states it."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "source", "wbr"}

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str], list[str]]] = []
        self.paragraphs: list[str] = []
        self.headings: list[str] = []
        self.cards: dict[str, str] = {}
        self._card: dict[str, str] | None = None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        classes = set((dict(attrs).get("class") or "").split())
        self.stack.append((tag, classes, []))
        if "card" in classes:
            self._card = {}

    def handle_endtag(self, tag):
        if tag in self.VOID or not self.stack:
            return
        while self.stack:
            open_tag, classes, parts = self.stack.pop()
            text = " ".join("".join(parts).split())
            if self.stack:  # the text belongs to the enclosing element too
                self.stack[-1][2].append("".join(parts))
            if open_tag == "p":
                self.paragraphs.append(text)
            elif open_tag in ("h1", "h2", "h3"):
                self.headings.append(text)
            if self._card is not None:
                for part in ("v", "l"):
                    if part in classes:
                        self._card[part] = text
                if "card" in classes:
                    self.cards[self._card.get("l", "")] = self._card.get("v", "")
                    self._card = None
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] not in ("script", "style"):
            self.stack[-1][2].append(data)


def assert_report_states_the_numbers(page: str, result, cleaned=None,
                                     unreviewed: str | None = None) -> None:
    """The cards, headline and cleaning summary of the report say what the package says."""
    report = _Report(page)
    n = len(result.labels)
    flagged = int(np.asarray(result.is_issue).sum())
    wrong = int(round(n * (1 - np.trace(result.estimate.joint))))
    systematic = int((result.pairs()["verdict"] == "systematic").sum())
    assert report.cards == {
        "label health (estimated % correct)": f"{result.health:.1f} / 100",
        "estimated wrong labels": f"{wrong:,}",
        "rows flagged for review": f"{flagged:,}",
        "systematic confusions": f"{systematic}",
    }
    headline = [p for p in report.paragraphs if p.startswith("About ")]
    assert len(headline) == 1, report.paragraphs
    assert headline[0].startswith(
        f"About {wrong:,} of the {n:,} labels ({100 * wrong / n:.1f}%) are estimated to be "
        "wrong (95% interval ")
    # one sentence on systematic confusions, never "0 class pair(s) ... need a fix" (#17)
    if systematic:
        assert f"{systematic} class pair(s) are confused systematically" in headline[0]
    else:
        assert "No class pair is confused systematically" in headline[0]
    sub = [p for p in report.paragraphs if " rows · " in p]
    assert len(sub) == 1 and f" {n:,} rows · {len(result.class_names)} classes · " in sub[0]
    changes = [p for p in report.paragraphs if "rows relabelled" in p
               or "without review" in p]
    if cleaned is None:
        assert not changes
    elif unreviewed is not None:  # which changes no person reviewed, in plain words (#25)
        assert changes == [f"{unreviewed} {cleaned.rows_in:,} rows in, "
                           f"{cleaned.rows_out:,} rows out."]
    else:
        assert changes == [
            f"{cleaned.relabelled:,} rows relabelled, {cleaned.removed:,} removed, "
            f"{cleaned.kept:,} confirmed as correct in the review; {cleaned.rows_in:,} rows in, "
            f"{cleaned.rows_out:,} rows out."]


def test_report_escapes_dataset_text_and_states_the_numbers(tmp_path):
    from dashboard.report import build_report

    rng = np.random.default_rng(1)
    n = 120
    X = rng.normal(size=(n, 2))
    evil = "<script>alert('x')</script>"
    labels = np.where(X[:, 0] > 0, evil, "plain")
    labels[:6] = np.where(labels[:6] == evil, "plain", evil)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": labels,
                          "text": [f"row {i} <img src=x onerror=alert(1)>" for i in range(n)]})
    ds = nl.from_frame(frame, "label", text_column="text", feature_columns=["a", "b"])
    result = nl.analyze(ds, model="logistic")
    page = build_report(ds, result)
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert result.num_issues > 0 and result.estimated_wrong > 0
    assert_report_states_the_numbers(page, result)
    decisions = suggested_decisions(result)
    decisions.loc[decisions.index[:2], "action"] = "remove"
    cleaned = apply_decisions(ds, decisions)
    assert_report_states_the_numbers(build_report(ds, result, cleaned=cleaned), result, cleaned)
    # no script at all: the charts are inline SVG (#17: small, offline, printable)
    assert re.findall(r"<script[^>]*>", page) == []


def _run(path, out, *extra):
    return main(["analyze", str(path), "--label-col", "animal", "--id-col", "uid",
                 "--detector", "confident_learning", "--out", str(out), *extra])


def test_a_renamed_reviewed_file_is_cleaned_with_its_review(tmp_path, capsys):
    """#25: the same bytes under a new name keep their review: --clean auto applies it (it
    used to fall back to the unreviewed suggestions)."""
    path, _ = _csv(tmp_path)
    ReviewStore(nl.load_dataset(path, "animal", id_column="uid")).decide_many(
        ["u1", "u2"], "remove")
    renamed = path.with_name("renamed.csv")
    path.rename(renamed)
    out = tmp_path / "out"
    assert _run(renamed, out) == 0
    assert "applied your review: 2 decision(s)" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["method"]["decisions"] == "reviewed"
    assert manifest["counts"]["removed"] == 2 and manifest["counts"]["relabelled"] == 0


def test_a_changed_file_keeps_its_review_and_says_what_changed(tmp_path, capsys):
    """Decide, edit the file (a label cell, a deleted row, a feature cell), re-run: the review
    carries over, gone and changed rows are counted, printed, listed and in the manifest."""
    path, frame = _csv(tmp_path)
    ds = nl.load_dataset(path, "animal", id_column="uid")
    store = ReviewStore(ds)
    store.decide_many(["u1", "u2", "u3", "u4"], "remove")
    store.decide("u10", "relabel", "cat")
    edited = frame.copy()
    edited.loc[edited["uid"] == "u1", "animal"] = "cat" if frame.loc[1, "animal"] == "dog" \
        else "dog"
    edited.loc[edited["uid"] == "u3", "a"] = 123.25
    edited = edited.loc[edited["uid"] != "u2"]
    edited.to_csv(path, index=False)
    capsys.readouterr()
    out = tmp_path / "out"
    assert _run(path, out) == 0  # auto: the review (made on the earlier version)
    err = capsys.readouterr().err
    assert "4 of 5 review decision(s) apply" in err
    assert "1 concerns a row no longer in the file" in err
    assert "2 concern rows changed since the decision" in err
    assert "applied your review: 4 decision(s)" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["method"]["decisions"] == "reviewed"
    assert manifest["review"] == {"decisions": 5, "carried": 4, "gone": 1, "changed": 2,
                                  "made_on_other_versions": 5,
                                  "moved_with_their_row": 0, "set_aside": 0}
    assert manifest["counts"]["removed"] == 3 and manifest["counts"]["relabelled"] == 1
    listed = pd.read_csv(out / "review_changed_rows.csv")
    assert list(listed["id"]) == ["u2", "u1", "u3"]
    assert list(listed["status"]) == ["gone", "changed", "changed"]
    assert list(listed["what"]) == ["row id not in the file", "label", "other cells"]
    assert manifest["files"]["review_changed_rows"]["rows"] == 3
    cleaned = pd.read_csv(out / "mine_cleaned.csv")
    assert set(cleaned["uid"]) == set(edited["uid"]) - {"u1", "u3", "u4"}
    assert json.loads((out / "summary.json").read_text())["review"]["gone"] == 1


def test_clean_modes_never_apply_unreviewed_suggestions_silently(tmp_path, capsys):
    path, frame = _csv(tmp_path)
    out = tmp_path / "out"
    # reviewed with no review at all: an error, nothing written
    assert _run(path, out, "--clean", "reviewed") == 2
    err = capsys.readouterr().err
    assert "no review decision applies to mine.csv" in err and "--clean suggestions" in err
    assert not out.exists()
    # every decided row deleted from the file: auto does not fall back to the suggestions
    ds = nl.load_dataset(path, "animal", id_column="uid")
    ReviewStore(ds).decide_many(["u1", "u2"], "remove")
    frame.loc[~frame["uid"].isin(["u1", "u2"])].to_csv(path, index=False)
    assert _run(path, out) == 2
    err = capsys.readouterr().err
    assert "all 2 decisions of this dataset concern rows no longer in the file (ids u1, u2)" \
        in err
    assert not out.exists()
    # the suggestions when asked for, saying so
    assert _run(path, out, "--clean", "suggestions") == 0
    assert "applied the detector's suggestions, unreviewed" in capsys.readouterr().err


def test_bad_review_database_and_output_paths_are_messages(tmp_path, capsys):
    path, _ = _csv(tmp_path)
    db = tmp_path / "ws" / "reviews.sqlite"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\0" * 10)
    assert _run(path, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"the review database {db} is damaged" in err and "--reviews" in err
    assert db.read_bytes() == b"\0" * 10  # untouched
    assert _run(path, tmp_path / "out", "--reviews", str(tmp_path / "fresh.sqlite")) == 0
    capsys.readouterr()
    a_file = tmp_path / "taken.txt"
    a_file.write_text("mine")
    assert _run(path, a_file, "--reviews", str(tmp_path / "fresh.sqlite")) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert a_file.read_text() == "mine"
    assert _run(path, "/proc/noiselens-out", "--reviews", str(tmp_path / "fresh.sqlite")) == 2
    assert "nothing was written" in capsys.readouterr().err
    # a second run replaces the first set whole; --out keeps showing the files by name
    out = tmp_path / "out"
    first = json.loads((out / "manifest.json").read_text())["set"]
    assert _run(path, out, "--reviews", str(tmp_path / "fresh.sqlite")) == 0
    assert json.loads((out / "manifest.json").read_text())["set"] != first
    assert (out / "label_issues.csv").is_file()


def test_missing_label_flag_names_the_rows(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    path = tmp_path / "ml.csv"
    path.write_text("x,label\n1,a\n2,NA\n3,a\n4,b\n5,b\n6,NA\n7,b\n8,a\n", encoding="utf-8")
    # by default 'NA' is a class name like any other ...
    assert main(["analyze", str(path), "--clean", "none", "--out", str(tmp_path / "a")]) == 0
    labels = json.loads((tmp_path / "a" / "summary.json").read_text())["classes"]
    assert labels == ["NA", "a", "b"]
    # ... and with --missing-label NA those cells are missing, named by row
    assert main(["analyze", str(path), "--missing-label", "NA",
                 "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "column 'label' has empty or missing (or 'NA') labels in rows 1, 5" in err
