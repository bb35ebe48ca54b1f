"""Hostile and careless inputs, one table: file -> the message (or outcome) the user gets.

Each case builds its input in a temporary folder and makes one call (the CLI or the API); the
expected text must appear in the error, and for the CLI the analysis must not have started
(a refusal after minutes of work is a refusal too late). The next case is one line.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis as nl
from analysis.data import DataError
from dashboard.cli import main


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


def _table(folder: Path, extra: dict | None = None, name: str = "data.csv") -> Path:
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({"x": rng.normal(size=n), "label": ["a", "b"] * (n // 2)})
    for col, values in (extra or {}).items():
        frame[col] = values
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def _user_flag_column(folder: Path) -> list[str]:
    path = _table(folder, {"noiselens_removed": [f"user{i}" for i in range(60)]})
    return ["analyze", str(path), "--label-col", "label", "--removed", "flag",
            "--out", str(folder / "out")]


def _reviews_is_a_folder(folder: Path) -> list[str]:
    (folder / "reviews").mkdir()
    return ["analyze", str(_table(folder)), "--label-col", "label",
            "--reviews", str(folder / "reviews"), "--out", str(folder / "out")]


def _npy(folder: Path) -> Path:
    probs = np.random.default_rng(1).dirichlet([1.0, 1.0], size=60)
    np.save(folder / "p.npy", probs)
    return folder / "p.npy"


def _args(folder: Path, *extra: str) -> list[str]:
    return ["analyze", str(_table(folder)), "--label-col", "label", *extra]


def _one_row_class(folder: Path, extra: str = "") -> Path:
    path = _table(folder)
    with open(path, "a") as fh:
        fh.write("0.5,c\n" + extra)  # class 'c': one row
    return path


CLI_CASES = {
    # a user column with the name the export adds: its cells would be overwritten
    "user column noiselens_removed with --removed flag": (
        _user_flag_column, "already has a column named 'noiselens_removed'"),
    # sqlite3 said "disk I/O error"
    "--reviews names a folder": (_reviews_is_a_folder, "is a folder: name a file"),
    # the next four failed only after the whole analysis (#25)
    "--chunk-rows 0": (
        lambda f: _args(f, "--pred-probs", str(_npy(f)), "--chunk-rows", "0",
                        "--out", str(f / "out")),
        "noiselens: error: --chunk-rows must be at least 1, got 0."),
    "--chunk-rows without --pred-probs .npy": (
        lambda f: _args(f, "--chunk-rows", "10", "--out", str(f / "out")),
        "noiselens: error: --chunk-rows needs --pred-probs FILE.npy"),
    "--out /proc/x (cannot be created)": (
        lambda f: _args(f, "--out", "/proc/x"),
        "noiselens: error: --out /proc/x: cannot create or write /proc"),
    "--out below a file": (
        lambda f: (f / "file").write_text("x") and _args(f, "--out", str(f / "file" / "out")),
        "(Not a directory): nothing was written"),
    "--dask at an address nobody listens on": (
        lambda f: _args(f, "--pred-probs", str(_npy(f)), "--dask", "tcp://127.0.0.1:1",
                        "--out", str(f / "out")),
        "noiselens: error: --dask tcp://127.0.0.1:1: cannot reach the scheduler"),
    # the hint named min_class_size=1, which the CLI had no flag for
    "a class of one row": (
        lambda f: ["analyze", str(_one_row_class(f)), "--label-col", "label",
                   "--out", str(f / "out")],
        "has only 1 row(s) (row 60); a class needs at least 2 rows to estimate its noise. Fix "
        "or remove those rows, or accept classes this small with --min-class-size 1"),
    # the rows of all small classes were listed as if they were one class's
    "two classes of one row": (
        lambda f: ["analyze", str(_one_row_class(f, extra="0.7,d\n")), "--label-col", "label",
                   "--out", str(f / "out")],
        "2 classes of column 'label' have fewer than 2 rows ('c': 1, 'd': 1; rows 60, 61); a "
        "class needs at least 2 rows"),
    "--min-class-size 0": (
        lambda f: _args(f, "--min-class-size", "0", "--out", str(f / "out")),
        "noiselens: error: --min-class-size must be at least 1, got 0."),
}


@pytest.fixture(autouse=True)
def _short_dask_wait(monkeypatch):
    # the up-front --dask check waits DASK_CONNECT_TIMEOUT (5 s); 1 s keeps the table quick
    monkeypatch.setattr("dashboard.cli.DASK_CONNECT_TIMEOUT", 1.0, raising=False)


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_refuses_with_a_clear_message_before_the_work(case, tmp_path, capsys):
    build, expected = CLI_CASES[case]
    argv = build(tmp_path)
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err
    assert "analysing" not in err  # refused before the analysis started
    assert not (tmp_path / "out").exists()


def _class_names_reversed(folder: Path) -> list[str]:
    import shapes

    csv_path, npy, _ = shapes.many_classes(folder, 12, 600)
    names = folder / "names.txt"  # the user's own order: neither sorted nor the model's
    names.write_text("\n".join(f"c{i}" for i in reversed(range(12))) + "\n")
    return ["analyze", str(csv_path), "--pred-probs", str(npy), "--class-names", str(names),
            "--clean", "none", "--out", str(folder / "out")]


# the run goes on, and what it says is true: args -> (expected, what must not be said)
WARNING_CASES = {
    # the warning said "class names sorted" of names in the user's own order
    "--class-names in the user's own order": (
        _class_names_reversed,
        "In the assumed order (class names in the order given: 'c11', 'c10', 'c9', …)",
        "sorted"),
}


@pytest.mark.parametrize("case", sorted(WARNING_CASES))
def test_cli_warns_truthfully(case, tmp_path, capsys):
    build, expected, unsaid = WARNING_CASES[case]
    code = main(build(tmp_path))
    err = capsys.readouterr().err
    assert code == 0, err
    warning = next(line for line in err.splitlines() if "warning" in line)
    assert expected in warning
    assert unsaid not in warning


def _random_npy(folder: Path):
    (folder / "r.npy").write_bytes(os.urandom(4000))
    return lambda: nl.load_dataset(_table(folder), "label", pred_probs=folder / "r.npy")


def _array_not_path(folder: Path):
    return lambda: nl.load_dataset(np.zeros((3, 2)), "label")


API_CASES = {
    "random bytes as .npy": (_random_npy, DataError, "is not a NumPy .npy file"),
    "load_dataset of an array": (_array_not_path, TypeError, "use analysis.from_arrays"),
}


@pytest.mark.parametrize("case", sorted(API_CASES))
def test_api_refuses_with_a_clear_message(case, tmp_path):
    build, error, expected = API_CASES[case]
    call = build(tmp_path)
    with pytest.raises(error) as info:
        call()
    assert expected in str(info.value)


def test_load_dataset_takes_a_data_frame(tmp_path):
    """`load_dataset(df)` was a raw TypeError; it now reads the frame as `from_frame` does."""
    frame = pd.read_csv(_table(tmp_path))
    direct = nl.load_dataset(frame, "label")
    reference = nl.from_frame(frame, "label")
    assert direct.fingerprint == reference.fingerprint
    np.testing.assert_array_equal(direct.labels, reference.labels)


def test_out_check_leaves_nothing_behind(tmp_path, monkeypatch):
    """The --out check creates the missing folders and a probe file, then removes them all,
    whether it passes or fails."""
    from analysis import export

    target = tmp_path / "a" / "b" / "out"
    export.check_target(target)
    assert list(tmp_path.iterdir()) == []
    real_open = open

    def refuse(path, mode="r", *a, **k):
        if ".noiselens-probe-" in str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr("builtins.open", refuse)
    with pytest.raises(export.ExportError, match=r"cannot create or write .*/a/b \(Permission "
                       r"denied\): nothing was written"):
        export.check_target(target)
    assert list(tmp_path.iterdir()) == []


def _quoting_frame() -> pd.DataFrame:
    n = 40
    rng = np.random.default_rng(2)
    return pd.DataFrame({
        "id": [f"r{i}" for i in range(n)],
        "x": rng.normal(size=n).round(4),
        "k": np.arange(n) % 5,
        "v": [1 if i % 3 else f"s{i}" for i in range(n)],  # numbers and text in one column
        "text": [f'say, "hi" {i}' if i % 7 == 0 else ("two\nlines" if i == 3 else f"t{i}")
                 for i in range(n)],
        "label": [["a", "b", "c"][i % 3] for i in range(n)],
    })


# how the input file is written (pandas' to_csv arguments) -> the cleaned split keeps it
QUOTING_CASES = {
    "QUOTE_ALL": {"quoting": csv.QUOTE_ALL},
    "QUOTE_ALL, CRLF (Python's csv default)": {"quoting": csv.QUOTE_ALL, "lineterminator": "\r\n"},
    "QUOTE_NONNUMERIC": {"quoting": csv.QUOTE_NONNUMERIC},
    "QUOTE_NONNUMERIC, semicolons": {"quoting": csv.QUOTE_NONNUMERIC, "sep": ";"},
    "QUOTE_MINIMAL": {"quoting": csv.QUOTE_MINIMAL},
}


def _quoted_file(folder: Path, case: str, frame: pd.DataFrame, name: str = "q.csv") -> Path:
    options = dict(QUOTING_CASES[case])
    path = folder / name
    frame.to_csv(path, index=False, **options)
    return path


@pytest.mark.parametrize("case", sorted(QUOTING_CASES))
def test_cleaned_split_keeps_the_input_quoting(case, tmp_path, capsys):
    """#25: a file with every string quoted came back with 421 of 421 lines different."""
    frame = _quoting_frame()
    path = _quoted_file(tmp_path, case, frame)
    np.save(tmp_path / "p.npy", np.full((len(frame), 3), 1 / 3))
    code = main(["analyze", str(path), "--label-col", "label", "--id-col", "id",
                 "--pred-probs", str(tmp_path / "p.npy"), "--clean", "none",
                 "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "q_cleaned.csv").read_bytes() == path.read_bytes()
    # one relabel: exactly one line differs, written as the same writer writes it
    from analysis.export import apply_decisions, write_table

    dataset = nl.load_dataset(path, "label", id_column="id")
    decision = pd.DataFrame({"id": ["r4"], "action": ["relabel"], "new_label": ["c"]})
    write_table(apply_decisions(dataset, decision).frame, tmp_path / "one.csv", "csv")
    relabelled = frame.copy()
    relabelled.loc[4, "label"] = "c"
    want = _quoted_file(tmp_path, case, relabelled, "want.csv").read_bytes()
    got = (tmp_path / "one.csv").read_bytes()
    assert got == want
    before = path.read_bytes()
    assert before != want
    differ = [a for a, b in zip(got.split(b"\n"), before.split(b"\n"), strict=True) if a != b]
    assert len(differ) == 1 and b"r4" in differ[0]


def test_min_class_size_flag_accepts_a_one_row_class(tmp_path, capsys):
    """The hint's way out works: --min-class-size 1 analyses the one-row class, and the
    dashboard's launcher passes the flag on to the app."""
    path = _one_row_class(tmp_path)
    code = main(["analyze", str(path), "--label-col", "label", "--min-class-size", "1",
                 "--clean", "none", "--detector", "confident_learning",
                 "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    per_class = pd.read_csv(tmp_path / "out" / "per_class.csv")
    assert per_class["name"].tolist() == ["a", "b", "c"]
    assert per_class["given"].tolist() == [30, 30, 1]
    from dashboard.cli import build_parser
    from dashboard.launch import streamlit_command
    from dashboard.session import launch_options

    args, extra = build_parser().parse_known_args(
        ["dashboard", "--data", str(path), "--min-class-size", "1"])
    cmd = streamlit_command(args, extra)
    app_argv = cmd[cmd.index("--") + 1:]
    assert launch_options(app_argv).min_class_size == 1
