"""``noiselens tasks`` and ``noiselens verdicts``: the round trip with labelling tools (#29).

``tasks`` writes the rows to label (the flagged rows in review order, the first ``--top N``, a
noise-matrix ``--cell``, or the ``--next N`` rows that most need another label; ``--slice
COL=VALUE`` keeps one slice) as Label Studio, Argilla, CVAT or CSV tasks
(:mod:`analysis.export.tasks`). ``verdicts`` reads the tool's export back
(:mod:`analysis.export.verdicts`) and makes the verdicts review decisions in the workspace
store, which ``analyze --clean reviewed`` and the Review page then apply.

Imports inside functions are a documented lazy start-up cost (docs/architecture.md, Layers):
``import analysis`` takes 1.9 s (scikit-learn, SciPy, pandas; ``argparse`` alone 0.04 s), and
``noiselens --help``, ``noiselens dashboard`` and a refused argument answer without it.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

COMMANDS = ("tasks", "verdicts")


def _data_arguments(p: argparse.ArgumentParser) -> None:
    """The data flags of ``analyze`` (the same names and meanings)."""
    p.add_argument("data", nargs="*", help="CSV or Parquet file, or a folder of images with "
                   "one sub-folder per class (several files are joined as splits)")
    p.add_argument("--sample", help="a bundled sample instead of DATA (e.g. digits)")
    p.add_argument("--label-col", help="label column (default: inferred)")
    p.add_argument("--id-col", help="id column (default: inferred, else the row number)")
    p.add_argument("--text-col", help="text column (default: inferred)")
    p.add_argument("--missing-label", metavar="TEXT", help="a label cell holding exactly TEXT "
                   "counts as missing")
    p.add_argument("--min-class-size", type=int, metavar="N",
                   help="fewest rows a class may have (default 2)")
    p.add_argument("--pred-probs", help=".npy file of out-of-fold probabilities (N x K)")
    p.add_argument("--embeddings", help=".npy file of embeddings (N x D)")
    p.add_argument("--class-names", metavar="FILE", help="text file of the class names, one "
                   "per line, in the order of the probability columns")
    p.add_argument("--detector", default="auto", help="label detector, as for analyze")
    p.add_argument("--filter-by", default="prune_by_noise_rate", help="as for analyze")
    p.add_argument("--rank-by", default="self_confidence", help="as for analyze")
    p.add_argument("--reviews", metavar="PATH", help="review database (default: "
                   "reviews.sqlite in the workspace, or $NOISELENS_REVIEWS)")
    p.add_argument("--dataset-name", metavar="NAME", help="the name the review decisions are "
                   "kept under (default: the file's path, or the sample's name)")


def add_commands(sub) -> None:
    """Add ``tasks`` and ``verdicts`` to the ``noiselens`` sub-commands."""
    from analysis.export.tasks import FORMATS as TASK_FORMATS
    from analysis.export.verdicts import FORMATS as VERDICT_FORMATS

    tasks = sub.add_parser(
        "tasks", help="write the rows to relabel as tasks for Label Studio, Argilla, CVAT or "
        "a CSV", description="Write labelling tasks: by default the flagged rows not yet "
        "reviewed, most likely wrong first, each with the suggested class and its score.")
    _data_arguments(tasks)
    tasks.add_argument("--format", required=True, choices=TASK_FORMATS, help="the tool")
    tasks.add_argument("--out", required=True, help="output folder (created)")
    tasks.add_argument("--top", type=int, metavar="N", help="only the first N rows")
    tasks.add_argument("--cell", metavar="GIVEN,SUGGESTED", help="the rows of one cell of the "
                       "noise matrix: given class GIVEN, counted for class SUGGESTED")
    tasks.add_argument("--slice", metavar="COL=VALUE", help="only rows whose column COL holds "
                       "VALUE (a vendor, a source, a batch; '(empty)' for empty cells)")
    tasks.add_argument("--next", type=int, metavar="N", help="the N rows that would gain most "
                       "from one more label (ActiveLab-like score), flagged or not")
    verdicts = sub.add_parser(
        "verdicts", help="bring a labelling tool's verdicts back as review decisions",
        description="Read a Label Studio (JSON, JSON_MIN, CSV), Argilla (records.json), CVAT "
        "(XML) or CSV-form export and record its verdicts as review decisions.")
    _data_arguments(verdicts)
    verdicts.add_argument("export", help="the exported file (or Argilla's to_disk folder)")
    verdicts.add_argument("--format", choices=VERDICT_FORMATS,
                          help="the export's format (default: detected from the file)")


def _split(args) -> None:
    """``verdicts DATA EXPORT``: the last positional is the export."""
    if args.command == "verdicts" and args.data and not getattr(args, "export", None):
        args.export = args.data.pop()


def _load(args):
    import analysis as nl
    from analysis.data.splits import load_splits

    files = list(args.data or [])
    if bool(files) == (args.sample is not None):
        raise ValueError("give either a DATA file or --sample NAME (not both).")
    if args.sample:
        return nl.from_sample(args.sample)
    options = {k: v for k, v in (
        ("id_column", args.id_col), ("text_column", args.text_col),
        ("missing_label", args.missing_label), ("min_class_size", args.min_class_size),
        ("pred_probs", args.pred_probs), ("embeddings", args.embeddings),
        ("classes", args.class_names)) if v is not None}
    if len(files) > 1:
        return load_splits(files, args.label_col, **options)
    dataset = nl.load_dataset(files[0], args.label_col, **options)
    for note in dataset.notes:
        print(f"noiselens: warning: {note}", file=sys.stderr)
    return dataset


def _store(args, dataset):
    from analysis.review.store import ReviewStore

    return ReviewStore(dataset, args.reviews, class_names=[str(c) for c in dataset.class_names],
                       identity=args.dataset_name)


def _analysis(args, dataset):
    import analysis as nl

    return nl.analyze(dataset, filter_by=args.filter_by, rank_by=args.rank_by,
                      detector=args.detector)


def _cell_rows(result, cell: str) -> np.ndarray:
    names = [str(c) for c in result.class_names]
    parts = [p.strip() for p in cell.split(",")]
    if len(parts) != 2 or not all(p in names for p in parts):
        raise ValueError(f"--cell {cell!r}: give GIVEN,SUGGESTED, two of the classes "
                         f"({', '.join(names[:20])}).")
    return result.cell(names.index(parts[0]), names.index(parts[1]))


def _chosen_rows(args, dataset, result, store) -> np.ndarray:
    from analysis.review.findings import review_order

    if sum(x is not None for x in (args.cell, args.next)) > 1:
        raise ValueError("give at most one of --cell and --next.")
    if args.top is not None and args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}.")
    if args.cell is not None:
        rows = _cell_rows(result, args.cell)
    elif args.next is not None:
        if args.next < 1:
            raise ValueError(f"--next must be at least 1, got {args.next}.")
        from analysis.annotators.relabel import relabel_order

        rows = relabel_order(result.pred_probs, dataset.labels, store.verdicts(),
                             dataset.ids, dataset.class_names)[:args.next]
    else:
        rows = review_order(result, store.decisions())
    if args.slice is not None:
        rows = rows[_in_slice(dataset, args.slice)[rows]]
    return rows if args.top is None else rows[:args.top]


def _in_slice(dataset, spec: str) -> np.ndarray:
    """(N,) bool: the rows of ``--slice COL=VALUE``."""
    from analysis.review.findings import slice_values

    column, sep, value = spec.partition("=")
    if not sep:
        raise ValueError(f"--slice {spec!r}: give COL=VALUE, e.g. --slice vendor=acme.")
    values = slice_values(dataset, column)
    inside = values == value
    if not inside.any():
        seen = ", ".join(sorted(set(values))[:20])
        raise ValueError(f"--slice {spec!r}: no row has {value!r} in column {column!r} "
                         f"(its values: {seen}).")
    return inside


def tasks_command(args) -> int:
    """``noiselens tasks``: write the chosen rows as labelling tasks."""
    from analysis.export.tasks import write_tasks

    dataset = _load(args)
    store = _store(args, dataset)
    result = _analysis(args, dataset)
    rows = _chosen_rows(args, dataset, result, store)
    if len(rows) == 0:
        raise ValueError("no row to label: nothing flagged that is not reviewed yet (try "
                         "--next N or --cell GIVEN,SUGGESTED).")
    written = write_tasks(dataset, rows, result.suggested, result.scores, args.format, args.out)
    print(f"{len(rows):,} task(s) for {args.format}: "
          f"{' '.join(str(p) for p in written)}")
    return 0


def verdicts_command(args) -> int:
    """``noiselens verdicts``: record an export's verdicts as review decisions."""
    from analysis.export.verdicts import check_verdicts, read_verdicts

    if not getattr(args, "export", None):
        raise ValueError("give the DATA file (or --sample) and the EXPORT file.")
    dataset = _load(args)
    found = read_verdicts(args.export, args.format)
    verdicts = check_verdicts(found, dataset)
    store = _store(args, dataset)
    cache = {}

    def probabilities(rows):  # only for a tied vote: the analysis is run then, once
        if dataset.pred_probs is not None:
            return np.asarray(dataset.pred_probs)[rows]
        if "probs" not in cache:
            cache["probs"] = _analysis(args, dataset).pred_probs
        return cache["probs"][rows]

    done = store.record_verdicts(verdicts, source=f"{found.format}: {found.source}",
                                 probabilities=probabilities)
    print(f"{found.source} ({found.format}): {done.message()} {found.skipped_line()}.")
    for row in done.disagreements.head(10).itertuples(index=False):
        print(f"  {row.id}: {row.labels} -> {row.consensus} (given {row.given})")
    if len(done.disagreements) > 10:
        print(f"  ... {len(done.disagreements) - 10:,} more")
    counts = store.counts()
    print(f"review ({store.key}): {counts['relabel']:,} relabel, {counts['remove']:,} remove, "
          f"{counts['keep']:,} keep; apply them with noiselens analyze ... --clean reviewed")
    return 0


def run(args) -> int:
    """Run ``tasks`` or ``verdicts``; a clear message (exit 2) for bad input."""
    from analysis.data.dataset import DataError

    _split(args)
    try:
        return tasks_command(args) if args.command == "tasks" else verdicts_command(args)
    except (DataError, ValueError, KeyError, OSError) as exc:
        print(f"noiselens: error: {exc}", file=sys.stderr)
        return 2
