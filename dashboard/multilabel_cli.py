"""``noiselens analyze --multi-label``: the multi-label analysis headless (#28).

Reads the tags (a delimited cell, ``--label-col`` / ``--label-sep``, or one 0/1 column per
class, ``--label-cols A,B,C`` / ``--label-prefix P``), runs
:func:`analysis.multilabel_pipeline.analyze_multilabel` and writes into ``--out``:

* ``label_issues.csv``: the flagged rows, lowest score first (id, given / suggested /
  missing / extra tags joined by the separator, score), formula-guarded;
* ``per_class.csv``: per class the rows with the tag, the flagged cells and the tag-missing /
  tag-extra rates with their Jeffreys 95% intervals;
* ``common_issues.csv``: per class and kind (missing, extra), the flagged rows;
* ``summary.json``: the health, the counts, the model decision, what the cleaning applied;
* the cleaned split, named after the input, in its own form (``--clean none``: a byte copy;
  ``--clean suggestions``, the default: the flagged rows' suggested tag sets, every other row
  as written) and ``tag_changes.csv``, which tags changed on which row.

Imports are inside the functions, as in :mod:`dashboard.cli` (a refused argument answers
without importing ``analysis``).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

#: --clean choices the multi-label path takes (there is no multi-label review yet).
CLEAN_MODES = ("auto", "suggestions", "none")
#: Joins the tags of one cell in the human-facing CSVs of 0/1-column data.
LIST_SEPARATOR = "|"


def wanted(args) -> bool:
    """The multi-label path: ``--multi-label``, a tag flag, or a multi-label sample."""
    if getattr(args, "multi_label", False) or getattr(args, "label_cols", None) \
            or getattr(args, "label_prefix", None):
        return True
    if getattr(args, "sample", None):
        from analysis.data.multilabel import multilabel_sample_names

        return args.sample in multilabel_sample_names()
    return False


def _fail(message: str) -> int:
    print(f"noiselens: error: {message}", file=sys.stderr)
    return 2


def _check_arguments(args, files: list[str]) -> str | None:
    """What the multi-label path refuses before reading anything, or None."""
    if bool(args.sample) == bool(files):
        return "give one data file or --sample NAME (not both)."
    if len(files) > 1:
        return "--multi-label takes one data file (splits are not joined yet)."
    given = [f for f, v in (("--label-col", args.label_col), ("--label-cols", args.label_cols),
                            ("--label-prefix", args.label_prefix)) if v]
    if len(given) > 1:
        return f"give the tags with one of {', '.join(given)}, not several."
    if args.clean not in CLEAN_MODES:
        return (f"--clean {args.clean} is not available with --multi-label (no multi-label "
                f"review yet): choose one of {', '.join(CLEAN_MODES)}.")
    from analysis.core.multilabel import ML_FILTERS

    if args.filter_by not in ML_FILTERS:
        return f"--filter-by {args.filter_by!r} is not one of: {', '.join(ML_FILTERS)}."
    for flag in ("chunk_rows", "dask", "embeddings", "slice_col"):
        if getattr(args, flag, None) is not None:
            return f"--{flag.replace('_', '-')} is not available with --multi-label."
    return None


def analysis_inputs(args, files: list[str]) -> dict:
    """The keyword arguments of analyze_multilabel (and the data) from the flags (the
    dashboard's multi-label pages read the same, dashboard/ml_compute.py)."""
    import numpy as np

    from analysis.data import multilabel as tagsio
    from analysis.data import samples
    from analysis.data.class_order import read_class_names

    kwargs = {"sep": args.label_sep, "id_col": args.id_col, "text_col": args.text_col,
              "filter_by": args.filter_by}
    if args.sample:
        sample = tagsio.load_multilabel_sample(args.sample)  # checks the files
        kwargs.update(data=samples.SAMPLES_DIR / f"{args.sample}.csv",
                      label_col=sample.label_column, sep=sample.separator,
                      class_names=sample.class_names)
    else:
        kwargs["data"] = files[0]
    if args.label_col:
        kwargs["label_col"] = args.label_col
    if args.label_cols:
        kwargs["label_cols"] = [c.strip() for c in args.label_cols.split(",")]
    if args.label_prefix:
        kwargs["prefix"] = args.label_prefix
    if args.class_names:
        kwargs["class_names"] = read_class_names(args.class_names)
    if args.pred_probs:
        from analysis.core.chunked import open_npy

        kwargs["pred_probs"] = np.asarray(open_npy(args.pred_probs))
    return kwargs


def _format(result, args) -> str:
    """The cleaned split's format: the input's (a Parquet file stays Parquet), unless
    ``--format parquet`` asks to turn a CSV into Parquet."""
    if args.format == "csv" and result.origin is not None:
        return result.origin.kind
    return args.format


def _check_out(out: Path) -> str | None:
    """What refuses ``--out`` before the analysis: a file, or the link of a (multi-class)
    export set, whose manifest the multi-label files would no longer match."""
    from analysis.export.split import sets_folder

    if out.is_symlink() or sets_folder(out).exists():
        return ("shows a noiselens export set (of a multi-class run); the multi-label files "
                "are written straight into a folder: choose another --out.")
    if out.exists() and not out.is_dir():
        return "is a file: name a folder."
    return None


def _progress(fraction: float, message: str) -> None:
    print(f"\r  {100 * fraction:3.0f}%  {message[:70]:70s}", end="", file=sys.stderr)


def run(args) -> int:
    """``noiselens analyze --multi-label``: analyse, then write the files into ``--out``."""
    from analysis.data.dataset import DataError

    files = [args.data] if isinstance(args.data, str) else list(args.data or [])
    problem = _check_arguments(args, files)
    if problem:
        return _fail(problem)
    out = Path(args.out)
    problem = _check_out(out)
    if problem:
        return _fail(f"--out {args.out}: {problem}")
    try:
        kwargs = analysis_inputs(args, files)
        from analysis.multilabel_pipeline import analyze_multilabel

        result = analyze_multilabel(kwargs.pop("data"), progress=_progress, **kwargs)
    except (DataError, ValueError, KeyError, OSError) as exc:
        return _fail(str(exc))
    print(file=sys.stderr)
    try:
        written = write_outputs(result, out, clean=args.clean, fmt=_format(result, args))
    except (ValueError, OSError) as exc:
        return _fail(f"--out {args.out}: {exc}")
    health = result.health
    print(f"{result.source}: {health['rows']:,} rows, {len(result.class_names)} tags; "
          f"{health['flagged_rows']:,} rows flagged ({health['tags_missing']:,} tags look "
          f"missing, {health['tags_extra']:,} extra); health {health['health_score']:.3f}",
          file=sys.stderr)
    if result.model is not None:
        print(f"model: {result.model.describe()}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {out}/: {' '.join(p.name for p in written)}")
    return 0


# --------------------------------------------------------------------------- the files


def _joined(names, matrix, rows, separator: str) -> list[str]:
    import numpy as np

    return [separator.join(names[j] for j in np.flatnonzero(matrix[i])) for i in rows]


def issues_frame(result):
    """label_issues.csv: the flagged rows, lowest score first, tags joined by the input's
    separator (``|`` for 0/1 columns)."""
    import numpy as np
    import pandas as pd

    sep = result.tags.separator or LIST_SEPARATOR
    rows = np.flatnonzero(result.is_issue)
    rows = rows[np.argsort(result.scores[rows], kind="stable")]
    names = result.class_names
    return pd.DataFrame({
        "id": result.ids[rows],
        "given_tags": _joined(names, result.labels, rows, sep),
        "suggested_tags": _joined(names, result.suggested, rows, sep),
        "missing_tags": _joined(names, result.missing_tags, rows, sep),
        "extra_tags": _joined(names, result.extra_tags, rows, sep),
        "score": result.scores[rows]})


def changes_frame(result, new_labels):
    """tag_changes.csv: per changed row its id, the tags added and removed."""
    import pandas as pd

    from analysis.data.multilabel import tag_changes

    sep = result.tags.separator or LIST_SEPARATOR
    changes = tag_changes(result.labels, new_labels, result.class_names)
    return pd.DataFrame({"id": [result.ids[c["row"]] for c in changes],
                         "row": [c["row"] for c in changes],
                         "added": [sep.join(c["added"]) for c in changes],
                         "removed": [sep.join(c["removed"]) for c in changes]},
                        columns=["id", "row", "added", "removed"])


def summary(result, clean: str, changed_rows: int, files: list[str]) -> dict:
    """summary.json."""
    h = result.health
    model = None
    if result.model is not None:
        model = {"chosen": result.model.chosen, "log_loss": result.model.log_loss,
                 "folds": result.model.folds, "notes": list(result.model.notes),
                 "summary": result.model.describe()}
    return {
        "source": result.source, "task": "multi-label", "form": result.tags.form,
        "separator": result.tags.separator, "label_column": result.tags.column,
        "label_columns": result.tags.columns, "class_names": result.class_names,
        "health_score": h["health_score"],
        "counts": {k: h[k] for k in ("rows", "flagged_rows", "tags_given", "tags_missing",
                                     "tags_extra", "rows_without_tags")},
        "filter_by": result.estimate.filter_by,
        "probabilities": result.probabilities_source, "model": model,
        "clean": {"mode": clean, "rows_changed": changed_rows},
        "notes": result.notes, "files": files,
    }


def _cleaned_name(result, fmt: str) -> str:
    stem = result.path.stem if result.path is not None else "data"
    return f"{stem}_cleaned.{fmt}"


def write_cleaned(result, path: Path, new_labels, fmt: str) -> None:
    """The split with ``new_labels``, in the input's form; unchanged input bytes when nothing
    changes and the format is the input's."""
    import numpy as np

    from analysis.data.multilabel import write_tags
    from analysis.export.split import with_origin, write_table

    same_format = result.path is not None and result.origin is not None \
        and result.origin.kind == fmt
    if same_format and np.array_equal(new_labels, result.labels):
        shutil.copyfile(result.path, path)
        return
    frame = with_origin(write_tags(result.frame, result.tags, new_labels), result.origin)
    write_table(frame, path, fmt)


def write_outputs(result, out: Path, *, clean: str = "suggestions",
                  fmt: str = "csv") -> list[Path]:
    """Every file of the multi-label run in ``out`` (created); their paths."""
    from analysis.export.split import write_table, write_text
    from analysis.export.spreadsheet import guard_formulas

    out.mkdir(parents=True, exist_ok=True)
    mode = "suggestions" if clean == "auto" else clean
    new = result.suggested if mode == "suggestions" else result.labels
    paths = {name: out / name for name in ("label_issues.csv", "per_class.csv",
                                           "common_issues.csv", "tag_changes.csv")}
    paths["cleaned"] = out / _cleaned_name(result, fmt)
    write_table(guard_formulas(issues_frame(result)), paths["label_issues.csv"], "csv")
    write_table(guard_formulas(result.per_class()), paths["per_class.csv"], "csv")
    write_table(guard_formulas(result.common_issues()), paths["common_issues.csv"], "csv")
    changes = changes_frame(result, new)
    write_table(guard_formulas(changes), paths["tag_changes.csv"], "csv")
    write_cleaned(result, paths["cleaned"], new, fmt)
    paths["summary"] = out / "summary.json"
    files = [p.name for p in paths.values()]
    write_text(paths["summary"], json.dumps(summary(result, mode, len(changes), files),
                                            indent=2, default=_jsonable) + "\n")
    return list(paths.values())


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")
