"""An export is a set: the folder shows the previous set or the new one, whole, whatever step
a kill -9 interrupts; leftovers go at the next export; a failed export says what was and was
not written; bad folders are refused with a message."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis as nl
from analysis.export import split as export
from analysis.export.split import ExportError, check_target, export_split, sets_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


def _data(path: Path, version: int) -> Path:
    """A small CSV; ``version`` changes some labels, so each export differs."""
    n = 40
    x = np.arange(n, dtype=float)
    labels = np.where(x % 2 == 0, "cat", "dog").astype(object)
    labels[: version % 5] = "bird"
    frame = pd.DataFrame({"uid": [f"r{i}" for i in range(n)], "x": x, "label": labels})
    frame.loc[frame.index[-3:], "label"] = "bird"
    frame.to_csv(path, index=False)
    return path


_SCRIPT = textwrap.dedent("""
    import os, sys, types
    import numpy as np
    import pandas as pd
    import analysis as nl
    from analysis.export import split as export

    data, out, kill_at, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    ds = nl.load_dataset(data, "label", id_column="uid")
    # export_split reads these of the analysis (the analysis itself is not under test here)
    result = types.SimpleNamespace(scores=np.linspace(0, 1, len(ds)), filter_by="f",
                                   rank_by="r", probabilities_source="p", num_issues=0)
    steps = []

    def hook(k, what):
        steps.append(what)
        if k == kill_at:
            os.kill(os.getpid(), 9)

    export._after_step = hook
    decisions = pd.DataFrame({"id": ["r5"], "action": ["remove"], "new_label": [None]})
    export.export_split(ds, result, decisions, out, extra_files={"report.html": tag * 50,
                                                                 "notes.bin": tag.encode()})
    print("\\n".join(steps))
""")


def _run(tmp_path, data, out, kill_at, tag):
    script = tmp_path / "run_export.py"
    script.write_text(_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(script), str(data), str(out), str(kill_at), tag],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)


def _visible_set(out: Path) -> str:
    """The tag of the set ``out`` shows, after checking every file against the manifest."""
    manifest = json.loads((out / "manifest.json").read_text())
    names = {"manifest.json"}
    for entry in manifest["files"].values():
        data = (out / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["name"]
        assert len(data) == entry["bytes"]
        names.add(entry["name"])
    assert {p.name for p in out.iterdir()} == names  # nothing else, no .part file
    return (out / "notes.bin").read_text()


def test_kill_at_every_step_leaves_the_old_set_or_the_new_one(tmp_path):
    data = _data(tmp_path / "d.csv", 1)
    out = tmp_path / "out"
    first = _run(tmp_path, data, out, 0, "old")
    assert first.returncode == 0, first.stderr
    steps = first.stdout.strip().split("\n")
    assert steps[-1] == "removed the previous set" and "sealed the set" in steps
    assert _visible_set(out) == "old"
    seen = set()
    for k in range(1, len(steps) + 1):
        _data(data, k + 1)
        proc = _run(tmp_path, data, out, k, f"new{k}")
        assert proc.returncode == -9, (k, proc.stderr)
        tag = _visible_set(out)
        assert tag in ("old", f"new{k}"), (k, tag)
        seen.add(tag == "old")
        # the next export removes what the killed one left behind, and shows the old set
        # (or the new) until it is done
        ok = _run(tmp_path, data, out, 0, "old")
        assert ok.returncode == 0, ok.stderr
        assert _visible_set(out) == "old"
        sets = sorted(p.name for p in sets_folder(out).iterdir())
        assert len(sets) == 2 and sets[0] == ".lock" and sets[1].startswith("set-"), sets
        assert not list(tmp_path.glob(".out.link-*"))
    assert seen == {True, False}  # some kills came before the switch, some after


def _small(tmp_path):
    ds = nl.load_dataset(_data(tmp_path / "d.csv", 1), "label", id_column="uid")
    probs = np.full((len(ds), ds.num_classes), 1 / ds.num_classes)
    result = nl.analyze(dataclasses.replace(ds, pred_probs=probs))
    none = pd.DataFrame(columns=["id", "action", "new_label"])
    return ds, result, none


def test_the_manifest_lists_each_file_with_rows_and_sha256(tmp_path):
    ds, result, none = _small(tmp_path)
    out = export_split(ds, result, none, tmp_path / "out",
                       extra_files={"report.html": lambda c: f"<p>{c.rows_out}</p>",
                                    "table.csv": pd.DataFrame({"a": [1, 2, 3]})},
                       review={"decisions": 0, "carried": 0, "gone": 0, "changed": 0})
    files = out.manifest["files"]
    assert set(files) == {"cleaned", "changes", "report", "table"}
    assert files["cleaned"]["rows"] == len(ds) and files["table"]["rows"] == 3
    assert files["report"]["rows"] is None
    assert (tmp_path / "out" / "report.html").read_text() == f"<p>{len(ds)}</p>"
    for entry in files.values():
        data = (tmp_path / "out" / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert out.manifest["review"]["carried"] == 0
    assert json.loads(out.files["manifest"].read_text()) == out.manifest
    # the folder is a link to the set; paths through it stay valid for the next export
    assert (tmp_path / "out").is_symlink() and out.set_dir.parent == sets_folder(tmp_path / "out")


def test_a_failed_export_says_what_was_and_was_not_written(tmp_path, monkeypatch):
    ds, result, none = _small(tmp_path)
    target = tmp_path / "out"
    export_split(ds, result, none, target, extra_files={"report.html": "v1"})
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def boom(cleaned):
        raise OSError(28, "No space left on device")

    # a file whose content cannot be made: nothing is written, the folder is unchanged
    with pytest.raises(OSError, match="No space left"):
        export_split(ds, result, none, target, extra_files={"report.html": "v2", "late": boom})
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    # a failure while writing: the file list, and the folder unchanged
    monkeypatch.setattr(export, "_sha256", lambda p: (_ for _ in ()).throw(
        OSError(28, "No space left on device")) if p.name == "report.html" else "x")
    with pytest.raises(ExportError) as err:
        export_split(ds, result, none, target, extra_files={"report.html": "v2"})
    message = str(err.value)
    assert "failed while writing report.html: No space left on device" in message
    assert "Nothing changed in" in message and "still shows the previous export" in message
    assert "Not written: d_cleaned.csv, d_changes.csv, report.html, manifest.json" in message
    assert "d_cleaned.csv, d_changes.csv had been written to a temporary folder" in message
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    monkeypatch.undo()
    # nothing left behind
    assert [p.name for p in sets_folder(target).iterdir() if p.name != ".lock"] == [
        target.resolve().name]


def test_an_older_export_folder_is_taken_over_and_a_foreign_one_refused(tmp_path):
    ds, result, none = _small(tmp_path)
    old = tmp_path / "old"
    old.mkdir()
    for name in ("manifest.json", "d_cleaned.csv", "d_changes.csv", ".d_cleaned.csv.1.part"):
        (old / name).write_text("from an older noiselens")
    export_split(ds, result, none, old)
    assert old.is_symlink() and not (old / ".d_cleaned.csv.1.part").exists()
    assert json.loads((old / "manifest.json").read_text())["input"]["rows"] == len(ds)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(ExportError, match=r"already holds files noiselens did not write "
                                          r"\(thesis.tex\)"):
        export_split(ds, result, none, mine)
    assert (mine / "thesis.tex").read_text() == "precious" and not sets_folder(mine).exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    export_split(ds, result, none, empty)
    assert empty.is_symlink()


def test_bad_folders_get_a_message(tmp_path, monkeypatch):
    ds, result, none = _small(tmp_path)
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    with pytest.raises(ExportError, match="is a file, not a folder"):
        check_target(a_file)
    with pytest.raises(ExportError, match="is a file, not a folder"):
        export_split(ds, result, none, a_file)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "link").symlink_to(elsewhere)
    with pytest.raises(ExportError, match="which noiselens did not make"):
        export_split(ds, result, none, tmp_path / "link")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExportError, match="the current folder"):
        export_split(ds, result, none, ".")
    # a folder that cannot be written (/proc refuses even root)
    with pytest.raises(ExportError, match="nothing was written"):
        export_split(ds, result, none, "/proc/noiselens-out")
