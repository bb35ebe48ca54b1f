"""The round trip with labelling tools (#29): tasks out, completed exports in each tool's
documented format back, exactly those decisions, and a cleaned split that differs from the
input only in the relabelled rows."""

from __future__ import annotations

import csv
import io
import json
import random
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import analysis as nl
from analysis.export.tasks import dataset_hash, task_files, write_tasks
from analysis.export.verdicts import check_verdicts, read_verdicts
from analysis.review.store import ReviewStore
from dashboard.cli import main

#: hostile class names: XML and JSON specials, a spreadsheet formula
CLASSES = ["cat", "dog & <co>", 'say "hi"', "=1+1"]
N = 40


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


@pytest.fixture()
def data(tmp_path):
    """A text dataset of N rows (ids r0..), its probabilities (.npy) and the review db."""
    rng = np.random.default_rng(3)
    labels = np.arange(N) % len(CLASSES)
    text = [f"row {i} <b>&amp; \"q\"</b>" for i in range(N)]
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(N)], "text": text,
                          "label": [CLASSES[j] for j in labels]})
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    probs = rng.dirichlet(np.ones(len(CLASSES)) * 0.5, size=N)
    probs[np.arange(N), labels] += 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    # row 7 (given '=1+1'): the model leans to 'cat' over '=1+1' (the tie-break of r7)
    probs[7] = [0.4, 0.1, 0.2, 0.3]
    order = sorted(CLASSES)  # class columns in sorted order (the default)
    np.save(tmp_path / "p.npy", probs[:, [CLASSES.index(c) for c in order]])
    return {"csv": path, "npy": tmp_path / "p.npy", "db": tmp_path / "r.sqlite",
            "dir": tmp_path}


def _dataset(data):
    return nl.load_dataset(data["csv"], "label", pred_probs=str(data["npy"]),
                           text_column="text")


def _flags(data):
    return ["--label-col", "label", "--text-col", "text", "--pred-probs", str(data["npy"]),
            "--reviews", str(data["db"])]


#: what each export says: row -> [(annotator, class, time)], plus the not-decisions
VOTES = {
    "r1": [("ann@x.org", "cat", "2026-01-02T10:00:00Z"),
           ("bob@x.org", "cat", "2026-01-02T11:00:00Z")],          # relabel (given dog & <co>)
    "r4": [("ann@x.org", "cat", "2026-01-02T10:05:00Z")],          # keep (given cat)
    "r7": [("ann@x.org", "cat", "2026-01-02T10:06:00Z"),
           ("bob@x.org", "=1+1", "2026-01-02T10:07:00Z")],         # tie: the model says cat
    "r9": [("ann@x.org", 'say "hi"', "2026-01-02T10:08:00Z"),
           ("bob@x.org", "=1+1", "2026-01-02T10:09:00Z"),
           ("cy@x.org", 'say "hi"', "2026-01-02T10:10:00Z")],      # 2 of 3: say "hi"
}
EXPECTED = {"r1": ("relabel", "cat"), "r4": ("keep", None), "r7": ("relabel", "cat"),
            "r9": ("relabel", 'say "hi"')}
CANCELLED_ROW = "r12"


def _ls_json(data) -> list:
    """A Label Studio JSON export of the tasks (shuffled), with annotations as documented."""
    dataset = _dataset(data)
    result = nl.analyze(dataset)
    rows = [dataset.id_index[r] for r in [*VOTES, CANCELLED_ROW, "r13"]]
    tasks = json.loads(task_files(dataset, rows, result.suggested, result.scores,
                                  "label-studio")["tasks.json"])
    out = []
    for t, task in enumerate(tasks):
        row = task["data"]["noiselens_id"]
        anns = [{"id": 100 * t + a, "completed_by": {"id": a, "email": who},
                 "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                             "value": {"choices": [label]}}],
                 "was_cancelled": False, "created_at": when, "updated_at": when}
                for a, (who, label, when) in enumerate(VOTES.get(row, []))]
        if row == CANCELLED_ROW:
            anns.append({"id": 999, "completed_by": 3, "result": [], "was_cancelled": True,
                         "created_at": "2026-01-02T12:00:00Z"})
        out.append({"id": t + 1, "data": task["data"], "annotations": anns,
                    "drafts": [{"id": 5, "result": []}] if row == "r13" else [],
                    "predictions": task["predictions"]})
    random.Random(0).shuffle(out)
    return out


def _json_min(tasks: list) -> list:
    """The same as Label Studio's JSON_MIN: one object per (not cancelled) annotation."""
    out = []
    for task in tasks:
        for ann in task["annotations"]:
            if ann["was_cancelled"]:
                continue
            out.append({**task["data"], "id": task["id"],
                        "label": ann["result"][0]["value"]["choices"][0],
                        "annotator": ann["completed_by"]["email"],
                        "annotation_id": ann["id"], "created_at": ann["created_at"],
                        "updated_at": ann["updated_at"], "lead_time": 3.2})
    return out


def _decisions(data) -> dict:
    store = ReviewStore(_dataset(data), data["db"])
    d = store.decisions()
    return {r: (a, None if pd.isna(lab) else lab)
            for r, a, lab in zip(d["id"], d["action"], d["new_label"], strict=True)}


def _cleaned_lines(data, out) -> list[str]:
    assert main(["analyze", str(data["csv"]), *_flags(data), "--clean", "reviewed",
                 "--out", str(out)]) == 0
    return [p for p in out.iterdir() if p.name == "d_cleaned.csv"][0].read_text().splitlines()


def _check_cleaned(data, lines):
    source = data["csv"].read_text().splitlines()
    assert len(lines) == len(source)
    differ = {i for i, (a, b) in enumerate(zip(source, lines, strict=True)) if a != b}
    relabelled = {r for r, (a, _) in EXPECTED.items() if a == "relabel"}
    assert differ == {int(r[1:]) + 1 for r in relabelled}  # +1: the header line
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    for r in relabelled:
        assert rows[int(r[1:])]["label"] == EXPECTED[r][1]


def test_label_studio_json_round_trip_gives_exactly_the_decisions(data, capsys):
    export = data["dir"] / "ls.json"
    export.write_text(json.dumps(_ls_json(data)))
    assert main(["verdicts", str(data["csv"]), str(export), *_flags(data)]) == 0
    said = capsys.readouterr().out
    assert "8 new verdict(s) of 8 read" in said
    assert "Not decisions, set aside: 1 cancelled, 1 draft" in said
    assert "r7: ann@x.org: cat; bob@x.org: =1+1 -> cat (given =1+1)" in said
    assert "review (file:" in said and "): 3 relabel, 0 remove, 1 keep; apply them" in said
    assert _decisions(data) == EXPECTED
    _check_cleaned(data, _cleaned_lines(data, data["dir"] / "out"))


def test_import_twice_changes_nothing(data, capsys):
    export = data["dir"] / "ls.json"
    export.write_text(json.dumps(_ls_json(data)))
    assert main(["verdicts", str(data["csv"]), str(export), *_flags(data)]) == 0
    store = ReviewStore(_dataset(data), data["db"])
    before = (store.decisions(), store.verdicts())
    capsys.readouterr()
    assert main(["verdicts", str(data["csv"]), str(export), *_flags(data)]) == 0
    assert "0 new verdict(s) of 8 read (8 imported before); 0 decision(s)" in \
        capsys.readouterr().out
    pd.testing.assert_frame_equal(store.decisions(), before[0])
    pd.testing.assert_frame_equal(store.verdicts(), before[1])


@pytest.mark.parametrize("form", ["json_min", "csv"])
def test_label_studio_min_and_csv_exports_give_the_same_decisions(data, form):
    items = _json_min(_ls_json(data))
    random.Random(1).shuffle(items)
    if form == "json_min":
        export = data["dir"] / "min.json"
        export.write_text(json.dumps(items))
    else:
        export = data["dir"] / "ls.csv"
        pd.DataFrame(items).to_csv(export, index=False)
    found = read_verdicts(export)
    assert found.format == {"json_min": "label-studio-min", "csv": "label-studio-csv"}[form]
    assert main(["verdicts", str(data["csv"]), str(export), *_flags(data)]) == 0
    assert _decisions(data) == EXPECTED


def _argilla_records(data, flattened: bool) -> list:
    dataset = _dataset(data)
    result = nl.analyze(dataset)
    rows = [dataset.id_index[r] for r in [*VOTES, CANCELLED_ROW]]
    records = json.loads(task_files(dataset, rows, result.suggested, result.scores,
                                    "argilla")["records.json"])
    for rec in records:
        row = rec["metadata"]["noiselens_id"]
        responses = [{"value": lab, "user_id": f"uuid-{who}", "status": "submitted"}
                     for who, lab, _ in VOTES.get(row, [])]
        if row == CANCELLED_ROW:
            responses += [{"value": "cat", "user_id": "uuid-z", "status": "discarded"},
                          {"value": "cat", "user_id": "uuid-y", "status": "draft"}]
        if flattened:
            rec.pop("responses")
            rec["label.responses"] = [r["value"] for r in responses]
            rec["label.responses.users"] = [r["user_id"] for r in responses]
            rec["label.responses.status"] = [r["status"] for r in responses]
        else:
            rec["responses"] = {"label": responses}
    random.Random(2).shuffle(records)
    return records


@pytest.mark.parametrize("flattened", [False, True])
def test_argilla_records_round_trip(data, flattened, capsys):
    folder = data["dir"] / "argilla"
    folder.mkdir()
    (folder / "records.json").write_text(json.dumps(_argilla_records(data, flattened)))
    assert main(["verdicts", str(data["csv"]), str(folder), *_flags(data)]) == 0
    assert "Not decisions, set aside: 1 discarded, 1 draft" in capsys.readouterr().out
    # no times in Argilla's records: r9's 2 of 3 and r7's tie decide as in Label Studio
    assert _decisions(data) == EXPECTED


def test_csv_form_round_trip_with_a_guarded_class(data):
    dataset = _dataset(data)
    result = nl.analyze(dataset)
    out = data["dir"] / "csvtasks"
    write_tasks(dataset, [dataset.id_index["r3"], dataset.id_index["r5"]], result.suggested,
                result.scores, "csv", out)
    text = (out / "tasks.csv").read_text()
    assert "'=1+1" in text  # r3's given label, formula-guarded
    frame = pd.read_csv(out / "tasks.csv", dtype=str, keep_default_na=False)
    frame["verdict"] = ["'=1+1", "cat"]  # r3: keep (as a spreadsheet saves it); r5: relabel
    frame["annotator"] = ["eve", "eve"]
    frame.to_csv(out / "done.csv", index=False)
    assert main(["verdicts", str(data["csv"]), str(out / "done.csv"), *_flags(data)]) == 0
    assert _decisions(data) == {"r3": ("keep", None), "r5": ("relabel", "cat")}


def _assert_refused(data, export, message, capsys):
    capsys.readouterr()
    assert main(["verdicts", str(data["csv"]), str(export), *_flags(data)]) == 2
    assert capsys.readouterr().err.strip() == f"noiselens: error: {message}"
    store = ReviewStore(_dataset(data), data["db"])
    assert store.decisions().empty and store.verdicts().empty


def test_refusals_name_ids_classes_and_datasets_and_import_nothing(data, capsys):
    tasks = _ls_json(data)
    bad = json.loads(json.dumps(tasks))
    for t, task in enumerate(bad[:7]):
        task["data"]["noiselens_id"] = f"x{t}"
    export = data["dir"] / "ids.json"
    export.write_text(json.dumps(bad))
    _assert_refused(data, export, f"{export} names 6 id(s) that d.csv does not have: 'x0', "
                    "'x1', 'x2', 'x3', 'x4' and 1 more; nothing imported.", capsys)
    bad = json.loads(json.dumps(tasks))
    for task in bad:
        for ann in task["annotations"]:
            for r in ann["result"]:
                r["value"]["choices"] = ["bird"]
    export.write_text(json.dumps(bad))
    _assert_refused(data, export, f"{export} gives 1 class(es) that d.csv does not have: "
                    "'bird' (its classes: =1+1, cat, dog & <co>, say \"hi\"); nothing "
                    "imported.", capsys)
    bad = json.loads(json.dumps(tasks))
    bad[0]["data"]["noiselens_dataset"] = "0123456789abcdef"
    export.write_text(json.dumps(bad))
    mine = dataset_hash(_dataset(data))
    _assert_refused(data, export, f"{export} holds the tasks of another dataset "
                    f"(noiselens_dataset '0123456789abcdef'; d.csv is {mine}): nothing "
                    "imported. Import it with the data the tasks were written from.", capsys)


def test_a_newer_verdict_replaces_the_older_and_history_keeps_both(data):
    dataset = _dataset(data)
    store = ReviewStore(dataset, data["db"])
    found = read_verdicts(None, name="a.json", content=json.dumps(
        [{"noiselens_id": "r2", "label": "cat", "annotator": "ann",
          "created_at": "2026-01-01T00:00:00Z"}]).encode())
    store.record_verdicts(check_verdicts(found, dataset), source="a")
    assert store.get("r2")["new_label"] == "cat"
    found = read_verdicts(None, name="b.json", content=json.dumps(
        [{"noiselens_id": "r2", "label": "=1+1", "annotator": "ann",
          "created_at": "2026-01-03T00:00:00Z"}]).encode())
    done = store.record_verdicts(check_verdicts(found, dataset), source="b")
    assert (done.new, done.decisions, done.relabels) == (1, 1, 1)
    assert store.get("r2")["new_label"] == "=1+1"
    assert list(store.verdicts()["label"]) == ["cat", "=1+1"]
    assert store.undo() == 1 and store.get("r2")["new_label"] == "cat"


def test_label_studio_files_escape_text_and_classes(data):
    dataset = _dataset(data)
    result = nl.analyze(dataset)
    files = task_files(dataset, [0, 1], result.suggested, result.scores, "label-studio")
    config = ET.fromstring(files["config.xml"])
    choices = config.find("Choices")
    assert choices.get("choice") == "single" and choices.get("name") == "label"
    assert [c.get("value") for c in choices] == sorted(CLASSES)
    tasks = json.loads(files["tasks.json"])
    assert tasks[0]["data"]["text"] == 'row 0 <b>&amp; "q"</b>'
    assert tasks[0]["predictions"][0]["score"] == pytest.approx(float(result.scores[0]))
    argilla = task_files(dataset, [0], result.suggested, result.scores, "argilla")
    settings = json.loads(argilla[".argilla/settings.json"])
    assert [o["value"] for o in settings["questions"][0]["settings"]["options"]] == sorted(CLASSES)
    record = json.loads(argilla["records.json"])[0]
    assert record["suggestions"]["label"]["agent"].startswith("noiselens-")
    assert record["metadata"]["noiselens_id"] == "r0"
    with pytest.raises(ValueError, match="CVAT tasks need image data"):
        task_files(dataset, [0], result.suggested, result.scores, "cvat")


def test_cvat_round_trip_on_an_image_folder(tmp_path):
    root = tmp_path / "imgs"
    names = ["a & b", "c<d"]
    for c in names:
        (root / c).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (6, 4), color=40 * i).save(root / c / f"{i}.png")
    dataset = nl.load_dataset(root)
    k = len(dataset.class_names)
    n = len(dataset)
    suggested = (np.asarray(dataset.labels) + 1) % k
    files = task_files(dataset, range(n), suggested, np.linspace(0, 1, n), "cvat")
    tree = ET.fromstring(files["annotations.xml"])
    images = tree.findall("image")
    assert [i.get("name") for i in images] == [str(p) for p in
                                               dataset.frame[dataset.image_column]]
    assert images[0].get("width") == "6" and images[0].get("height") == "4"
    assert [lab.findtext("name") for lab in tree.iter("label")] == dataset.class_names
    assert len(files["images.txt"].decode().splitlines()) == n
    # the annotator keeps image 0 and relabels image 1 (tags replaced), skips the rest
    for t, image in enumerate(images):
        for tag in image.findall("tag"):
            image.remove(tag)
        if t < 2:
            ET.SubElement(image, "tag", label=dataset.class_names[
                (dataset.labels[t] + t) % k], source="manual")
    owner = ET.SubElement(ET.SubElement(tree.find("meta/task"), "owner"), "username")
    owner.text = "kim"
    found = read_verdicts(None, name="a.xml", content=ET.tostring(tree))
    assert found.format == "cvat" and found.skipped["empty"] == n - 2
    store = ReviewStore(dataset, tmp_path / "r.sqlite")
    store.record_verdicts(check_verdicts(found, dataset), source="cvat")
    d = store.decisions()
    ids = [str(i) for i in dataset.ids[:2]]
    assert list(d["id"]) == ids and list(d["action"]) == ["keep", "relabel"]
    assert set(store.verdicts()["annotator"]) == {"kim"}


def test_a_renamed_class_question_is_still_read(data):
    tasks = _ls_json(data)
    for task in tasks:
        for ann in task["annotations"]:
            for r in ann["result"]:
                r["from_name"] = "klass"
    found = read_verdicts(None, name="x.json", content=json.dumps(tasks).encode())
    assert len(found.verdicts) == 8 and found.skipped == {"cancelled": 1, "draft": 1}


def test_a_second_file_decides_only_the_rows_it_brings_new_verdicts_for(data):
    dataset = _dataset(data)
    store = ReviewStore(dataset, data["db"])
    first = read_verdicts(None, name="a.json", content=json.dumps(_json_min(_ls_json(data))
                                                                  ).encode())
    store.record_verdicts(check_verdicts(first, dataset), source="a")
    store.clear(["r4"])  # the reviewer took r4's keep back in the dashboard
    more = [{"noiselens_id": "r1", "label": "cat", "annotator": "dee",
             "created_at": "2026-01-05T00:00:00Z"},
            {"noiselens_id": "r4", "label": "cat", "annotator": "ann@x.org",
             "created_at": "2026-01-02T10:05:00Z"}]  # r4's verdict again: not new
    second = read_verdicts(None, name="b.json", content=json.dumps(more).encode())
    done = store.record_verdicts(check_verdicts(second, dataset), source="b")
    assert (done.read, done.new, done.decisions) == (2, 1, 1)
    assert store.get("r4") is None and store.get("r1")["new_label"] == "cat"
    assert store.get("r1")["note"] == "verdicts (b): 3 annotator(s)"
