"""The ``noiselens`` command: ``analyze`` (the pipeline headless) and ``dashboard``.

It sits above both packages (docs/architecture.md, Layers): it runs ``analysis`` and writes
the report and launches the server of ``dashboard``; ``analysis`` never imports it.

Imports inside functions are a documented lazy start-up cost (docs/architecture.md, Layers):
``import analysis`` takes 1.9 s (scikit-learn, SciPy, pandas; ``argparse`` alone 0.04 s), and
``noiselens --help``, ``noiselens dashboard`` and a refused argument answer without it.
"""

from __future__ import annotations

import argparse
import sys
import time

from dashboard import multilabel_cli, roundtrip_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noiselens",
        description="Find, show and fix label errors in a labelled dataset.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_dashboard_command(sub)
    run = _add_analyze_inputs(sub)
    _add_analyze_outputs(run)
    roundtrip_cli.add_commands(sub)  # tasks, verdicts (#29)
    return parser


def _add_dashboard_command(sub) -> None:
    """``noiselens dashboard`` and its options."""
    dash = sub.add_parser(
        "dashboard",
        help="open the interactive dashboard (on the bundled digits sample by default)",
        description="Open the interactive dashboard. Extra arguments go to Streamlit.",
    )
    dash.add_argument("--data", help="CSV or Parquet file, or a folder of images with one "
                      "sub-folder per class, to open instead of the sample")
    dash.add_argument("--label-col", help="name of the label column of --data")
    dash.add_argument("--id-col", help="id column (default: inferred, else the row number)")
    dash.add_argument("--text-col", help="text column (default: inferred)")
    dash.add_argument("--pred-probs", help=".npy file of out-of-fold probabilities (N x K), "
                      "columns in the order of --class-names (default: class names sorted)")
    dash.add_argument("--embeddings", help=".npy file of embeddings (N x D)")
    dash.add_argument("--class-names", metavar="FILE", help="text file of the class names, "
                      "one per line, in the order of the probability columns")
    dash.add_argument("--min-class-size", type=int, metavar="N",
                      help="fewest rows a class of --data may have (default 2)")
    dash.add_argument("--host", help="address to listen on (default: localhost, this machine "
                      "only; 0.0.0.0 opens the dashboard, its review and its exports to the "
                      "network)")
    dash.add_argument("--export-dir", help="folder the Review & export page writes to "
                      "(default: the workspace's exports/ folder); it cannot be changed from "
                      "the page")
    dash.add_argument("--sample", help="a bundled sample to open first (e.g. digits, or the "
                      "multi-label digits_tags)")
    dash.add_argument("--multi-label", action="store_true", help="rows carry several tags (or "
                      "none): open the multi-label pages (a delimited --label-col, or 0/1 "
                      "columns: --label-cols, --label-prefix)")
    dash.add_argument("--label-sep", default="|", metavar="SEP",
                      help="with --multi-label: the text between two tags of a cell (default |)")
    dash.add_argument("--label-cols", metavar="A,B,C",
                      help="with --multi-label: one 0/1 column per class, comma-separated")
    dash.add_argument("--label-prefix", metavar="P", help="with --multi-label: every column "
                      "named P<class> is a 0/1 column of that class")



def _add_analyze_inputs(sub) -> argparse.ArgumentParser:
    """``noiselens analyze``: the data, its columns and what comes with it."""
    run = sub.add_parser(
        "analyze",
        help="run the whole analysis headless and write the results, a report and the "
        "cleaned split",
        description="Analyse a labelled file (or a bundled sample) and write label_issues.csv, "
        "per_class.csv, noise_matrix.csv, summary.json, report.html and the cleaned split "
        "into --out.",
    )
    run.add_argument("data", nargs="*", help="CSV or Parquet file, or a folder of images with "
                     "one sub-folder per class; several files (train.csv test.csv ...) are "
                     "joined as splits: a 'split' column named after each file, and "
                     "near-duplicates across them (leakage) listed")
    run.add_argument("--sample", help="a bundled sample instead of DATA (e.g. digits)")
    run.add_argument("--label-col", help="label column (default: inferred)")
    run.add_argument("--id-col", help="id column (default: inferred, else the row number)")
    run.add_argument("--text-col", help="text column (default: inferred)")
    run.add_argument("--missing-label", metavar="TEXT",
                     help="a label cell holding exactly TEXT counts as missing, like an empty "
                     "cell (by default only empty cells do: 'NA' or 'null' are class names)")
    run.add_argument("--min-class-size", type=int, metavar="N",
                     help="fewest rows a class may have (default 2: a class of one row "
                     "is refused, its noise cannot be estimated)")
    run.add_argument("--pred-probs", help=".npy file of out-of-fold probabilities (N x K); "
                     "memory-mapped, never read whole")
    run.add_argument("--chunk-rows", type=int, metavar="N",
                     help="with --pred-probs: compute the confident-learning core in chunks of "
                     "N rows (default: the whole memory-mapped file at once)")
    run.add_argument("--dask", metavar="ADDRESS",
                     help="with --pred-probs: run the confident-learning core on the "
                     "dask.distributed scheduler at ADDRESS (e.g. tcp://scheduler:8786); the "
                     ".npy file must be at the same path on every worker (shared storage)")
    run.add_argument("--embeddings", help=".npy file of embeddings (N x D)")
    run.add_argument("--class-names", metavar="FILE", help="text file of the class names, one "
                     "per line, in the order of the probability columns (default: sorted)")
    run.add_argument("--multi-label", action="store_true", help="rows carry several tags (or "
                     "none): a delimited --label-col, or 0/1 columns (--label-cols, "
                     "--label-prefix); see dashboard/multilabel_cli.py for what is written")
    run.add_argument("--label-sep", default="|", metavar="SEP",
                     help="with --multi-label: the text between two tags of a cell (default |)")
    run.add_argument("--label-cols", metavar="A,B,C",
                     help="with --multi-label: one 0/1 column per class, comma-separated")
    run.add_argument("--label-prefix", metavar="P", help="with --multi-label: every column "
                     "named P<class> is a 0/1 column of that class")
    return run


def _add_analyze_outputs(run) -> None:
    """``noiselens analyze``: the detector, the cleaning and the outputs."""
    run.add_argument("--filter-by", default="prune_by_noise_rate",
                     help="label-issue filter (default: prune_by_noise_rate)")
    run.add_argument("--rank-by", default="self_confidence",
                     help="ranking score (default: self_confidence)")
    run.add_argument("--detector", default="auto",
                     help="label detector: auto (the default: clean_and_refit unless the data "
                     "brings its own --pred-probs or has more than 5,000 rows, then "
                     "confident_learning), "
                     "confident_learning (the exact filters on the out-of-fold model's "
                     "probabilities) or clean_and_refit (clean the flagged rows, fit the model "
                     "again, flag with its probabilities: better on the benchmark, about 3x "
                     "the fitting time of one fit; cached)")
    run.add_argument("--clean", choices=("auto", "reviewed", "suggestions", "none"),
                     default="auto", help="decisions applied to the cleaned split: the review "
                     "made in the dashboard, the detector's suggestions, or none (auto: the "
                     "review if this dataset has any decision, in any version of the file, "
                     "else the suggestions; reviewed with nothing to apply is an error)")
    run.add_argument("--suggestion-action", choices=("relabel", "remove"), default="relabel",
                     help="with suggestions: relabel flagged rows or remove them")
    run.add_argument("--max-score", type=float, default=1.0,
                     help="with suggestions: only rows whose quality score is at most this")
    run.add_argument("--min-confidence", type=float, default=None,
                     help="with suggestions (no review): change only flagged rows whose "
                     "suggested class has at least this out-of-fold probability (default 0.9, "
                     "measured in docs/benchmarks.md; 0 changes every flagged row); the other "
                     "flagged rows keep their label")
    run.add_argument("--removed", choices=("drop", "flag"), default="drop",
                     help="drop removed rows or keep them with a flag column")
    run.add_argument("--format", choices=("csv", "parquet"), default="csv",
                     help="format of the cleaned split")
    run.add_argument("--out", required=True,
                     help="output folder (created; each run replaces its files as one set)")
    run.add_argument("--reviews", metavar="PATH",
                     help="review database (default: reviews.sqlite in the workspace, or "
                     "$NOISELENS_REVIEWS)")
    run.add_argument("--dataset-name", metavar="NAME",
                     help="the name the review decisions are kept under (default: the file's "
                     "path, or the sample's name)")
    run.add_argument("--slice-col", metavar="COL",
                     help="a column to break the noise down by (vendor, source, annotator, "
                     "batch): noise rate per value with a 95%% interval, in the report and "
                     "summary.json")


def _fail(message: str) -> int:
    print(f"noiselens: error: {message}", file=sys.stderr)
    return 2


def _open_pred_probs(args):
    """``--pred-probs``: a .npy file memory-mapped (never read whole), else the path as given
    (a CSV is read by analysis.data.dataset)."""
    if not args.pred_probs:
        return None
    if str(args.pred_probs).lower().endswith(".npy"):
        from analysis.core.chunked import open_npy

        return open_npy(args.pred_probs)
    return args.pred_probs


#: seconds the up-front check of ``--dask`` waits for the scheduler: long enough for a
#: scheduler on another machine of the cluster to answer, short enough that a wrong address
#: is refused at once rather than after dask's own 30 s (the later connection keeps dask's)
DASK_CONNECT_TIMEOUT = 5.0


def _check_core_arguments(args) -> str | None:
    """``--chunk-rows`` and ``--dask`` checked before the data is read: the message, or None."""
    chunk_rows = getattr(args, "chunk_rows", None)
    dask = getattr(args, "dask", None)
    if chunk_rows is not None and chunk_rows < 1:
        return f"--chunk-rows must be at least 1, got {chunk_rows}."
    if (dask or chunk_rows is not None) and not (
            args.pred_probs and str(args.pred_probs).lower().endswith(".npy")):
        flag = "--dask" if dask else "--chunk-rows"
        return f"{flag} needs --pred-probs FILE.npy (the probabilities read in row chunks)."
    return None


def _check_dask(address: str) -> str | None:
    """Connect to the scheduler at ``address`` for at most ``DASK_CONNECT_TIMEOUT`` seconds
    and disconnect: the message when it cannot be reached, or None."""
    try:
        from dask.distributed import Client
    except ImportError:
        return "--dask needs dask.distributed: pip install 'noiselens[scale]'."
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        return f"--dask {address}: cannot reach the scheduler ({exc})."
    client.close()
    return None


def _chunked_core(result, args, progress):
    """``--dask`` / ``--chunk-rows``: the core of ``result`` computed in row chunks (on the
    dask cluster at ``--dask``), identical results."""
    if not (args.pred_probs and str(args.pred_probs).lower().endswith(".npy")):
        raise ValueError("--dask and --chunk-rows need --pred-probs FILE.npy.")
    if args.chunk_rows is not None and args.chunk_rows < 1:
        raise ValueError(f"--chunk-rows must be at least 1, got {args.chunk_rows}.")
    if not args.dask:
        return result.with_chunked_evidence(args.pred_probs, chunk_rows=args.chunk_rows,
                                            progress=progress)
    try:
        from dask.distributed import Client
    except ImportError:
        raise ValueError("--dask needs dask.distributed: pip install 'noiselens[scale]'.") from None
    from analysis.core.chunked import dask_from_npy

    try:  # dask's distributed.comm.timeouts.connect (30 s by default) bounds the wait
        client = Client(args.dask)
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"--dask {args.dask}: cannot reach the scheduler ({exc}).") from None
    print(f"dask: {args.dask}, {len(client.scheduler_info()['workers'])} worker(s)",
          file=sys.stderr)
    result = result.with_chunked_evidence(dask_from_npy(args.pred_probs, args.chunk_rows),
                                          progress=progress)
    # everything the report and the files read from the core, computed while connected
    result.estimate, result.is_issue, result.scores  # noqa: B018
    client.close()
    return result


def analyze_command(args) -> int:
    """``noiselens analyze``: the whole pipeline headless.

    The first results (label_issues.csv, summary.json, the tables and the cleaned split) are
    written as soon as the label detector is done; the neighbour signals (issues.csv, the
    manifest's checks) and report.html follow, with progress and a time estimate, in a
    second set that replaces the first (``--out`` always shows one whole set).
    """
    from pathlib import Path

    from analysis.data.dataset import DataError
    from analysis.export.split import ExportError, check_target

    started = time.perf_counter()
    files = [args.data] if isinstance(args.data, str) else list(args.data or [])
    problem = _check_analyze_arguments(args, files)
    if problem:
        return _fail(problem)
    out = Path(args.out)
    try:
        check_target(out)  # before a long analysis: the folder created, written, removed
    except ExportError as exc:
        return _fail(f"--out {args.out}: {exc}")
    if getattr(args, "dask", None):  # an unreachable scheduler refused before the data is read
        problem = _check_dask(args.dask)
        if problem:
            return _fail(problem)
    try:
        dataset, store, carry = _open_dataset(args, files)
        result = _detect(args, dataset)
    except (DataError, ValueError, KeyError, OSError) as exc:
        return _fail(str(exc))
    plan = _cleaning_plan(args, result, dataset, store, carry)
    if isinstance(plan, str):
        return _fail(plan)
    try:
        plan.update(_findings(args, dataset, result, store, carry))
    except ValueError as exc:
        return _fail(f"--slice-col: {exc}")
    try:
        first = _write_set(dataset, result, out, args, plan, carry, first=True)
    except (ValueError, OSError) as exc:
        return _fail(str(exc))
    print(f"first results in {out}/ after {time.perf_counter() - started:.1f} s: "
          f"{', '.join(p.name for p in first.files.values())}", file=sys.stderr)
    problem = _extras(result, _progress)
    try:
        exported = None if problem else _write_set(dataset, result, out, args, plan, carry)
    except (ValueError, OSError) as exc:
        problem = str(exc)
    if problem:
        return _fail(f"{problem} The first results stay in {out}/ (label_issues.csv, "
                     "summary.json, the cleaned split; manifest.json lists them); issues.csv "
                     "and report.html were not written.")
    _print_outcome(result, exported, plan["applied"], carry, out)
    return 0


def _check_analyze_arguments(args, files: list[str]) -> str | None:
    """The choices and numbers of ``analyze`` checked before anything is read: the message,
    or None."""
    from analysis.core.issues import FILTERS, RANKINGS
    from analysis.pipeline import AUTO_DETECTOR, DETECTORS

    if bool(files) == (args.sample is not None):
        return "give either a DATA file or --sample NAME (not both)."
    if args.detector not in (AUTO_DETECTOR, *DETECTORS):
        return (f"--detector {args.detector!r} is not one of: "
                f"{', '.join((AUTO_DETECTOR, *DETECTORS))}.")
    if args.filter_by not in FILTERS:
        return f"--filter-by {args.filter_by!r} is not one of: {', '.join(FILTERS)}."
    if args.rank_by not in RANKINGS:
        return f"--rank-by {args.rank_by!r} is not one of: {', '.join(RANKINGS)}."
    problem = _check_core_arguments(args)
    if getattr(args, "min_class_size", None) is not None and args.min_class_size < 1:
        problem = f"--min-class-size must be at least 1, got {args.min_class_size}."
    return problem


def _open_dataset(args, files: list[str]):
    """The dataset (a sample, one file or several as splits; what the loading set aside
    printed as warnings), its review store and what became of the review."""
    import analysis as nl
    from analysis.review.store import ReviewStore, reconcile

    if args.sample:
        dataset = nl.from_sample(args.sample)
    else:
        options = {k: v for k, v in (
            ("id_column", args.id_col), ("text_column", args.text_col),
            ("missing_label", args.missing_label),
            ("min_class_size", getattr(args, "min_class_size", None)),
            ("pred_probs", _open_pred_probs(args)), ("embeddings", args.embeddings),
            ("classes", getattr(args, "class_names", None))) if v is not None}
        if len(files) > 1:  # train.csv test.csv ...: one dataset with a split column
            from analysis.data.splits import load_splits

            dataset = load_splits(files, args.label_col, **options)
        else:
            dataset = nl.load_dataset(files[0], args.label_col, **options)
        for note in dataset.notes:  # what the loading set aside (an image too large)
            print(f"noiselens: warning: {note}", file=sys.stderr)
        if dataset.class_order is not None and dataset.class_order.suspicious:
            print(f"noiselens: warning: {dataset.class_order.message(dataset.source)}",
                  file=sys.stderr)
    names = [str(c) for c in dataset.class_names]
    if getattr(args, "slice_col", None):  # a wrong --slice-col fails before the analysis
        from analysis.review.findings import slice_values

        slice_values(dataset, args.slice_col)
    # the review: read (and a damaged database named) before the long analysis
    store = ReviewStore(dataset, getattr(args, "reviews", None), class_names=names,
                        identity=getattr(args, "dataset_name", None))
    return dataset, store, reconcile(store, dataset)


def _progress(fraction: float, message: str) -> None:
    print(f"\r  {100 * fraction:3.0f}%  {message[:70]:70s}", end="", file=sys.stderr)


def _detect(args, dataset):
    """The label detector's analysis (memory checked first, what the export would refuse
    refused first), with ``--dask`` / ``--chunk-rows`` applied."""
    import analysis as nl
    from analysis.export.split import check_flag_column
    from analysis.pipeline import check_analysis

    # memory estimated before the work starts: refused with the numbers if it won't fit
    check_analysis(len(dataset), dataset.num_classes, has_probs=dataset.pred_probs is not None,
                   kind="text" if dataset.text_column else "tabular")
    # refuse before minutes of work what the export would refuse after them
    check_flag_column(dataset, args.removed)
    print(f"analysing {dataset.source}: {len(dataset):,} rows, {dataset.num_classes} "
          "classes", file=sys.stderr)
    result = nl.analyze(dataset, filter_by=args.filter_by, rank_by=args.rank_by,
                        progress=_progress, detector=args.detector)
    if getattr(args, "dask", None) or getattr(args, "chunk_rows", None) is not None:
        result = _chunked_core(result, args, _progress)
    print(file=sys.stderr)
    return result


def _cleaning_plan(args, result, dataset, store, carry) -> dict | str:
    """What the cleaned split applies (``--clean``): ``mode``, ``decisions``, ``unreviewed``
    and the ``applied`` sentence; or the message when a review is asked for and none
    applies."""
    from analysis.export.split import UNREVIEWED_MIN_CONFIDENCE, unreviewed_decisions

    mode = args.clean
    unreviewed = None  # what the cleaning changed without review (suggestions only)
    if mode == "auto":
        # any decision on this dataset (any version of its file) means it was reviewed: never
        # fall back to unreviewed suggestions then
        mode = "reviewed" if carry.total else "suggestions"
    if mode == "reviewed":
        if carry.total:
            print(f"review ({store.key}): {carry.message()}", file=sys.stderr)
        if carry.carried == 0:
            gone = ", ".join(carry.gone["id"].astype(str).head(5))
            return (f"no review decision applies to {dataset.source}: "
                    + (f"all {carry.total:,} decisions of this dataset concern rows no longer "
                       f"in the file (ids {gone}{', ...' if len(carry.gone) > 5 else ''}). "
                       if carry.total else
                       f"there is no review for it in {store.path} (dataset {store.key}). ")
                    + "Review it in the dashboard, or choose --clean suggestions or --clean "
                    "none.")
        decisions = carry.applicable
        applied = (f"your review: {carry.carried:,} decision(s) "
                   f"({len(carry.changed):,} on rows changed since; {len(carry.gone):,} on "
                   "rows no longer in the file, not applied)")
    elif mode == "suggestions":
        decisions, unreviewed = unreviewed_decisions(
            result, max_score=args.max_score, action=args.suggestion_action,
            min_confidence=(UNREVIEWED_MIN_CONFIDENCE if args.min_confidence is None
                            else args.min_confidence))
        applied = ("the detector's suggestions, unreviewed"
                   + (" (no review decisions for this dataset)" if args.clean == "auto" else "")
                   + f": {unreviewed.line()}")
    else:
        decisions = carry.applicable.iloc[0:0]
        applied = "nothing (--clean none): the cleaned split is the input"
    return {"mode": mode, "decisions": decisions, "unreviewed": unreviewed, "applied": applied}


def _findings(args, dataset, result, store, carry) -> dict:
    """Noise by slice, intervals, the review's evidence and the history (#17), recorded once
    for both sets; raise ValueError on a bad ``--slice-col``."""
    from analysis.review import findings, history

    slices = None
    if getattr(args, "slice_col", None):
        slices = findings.slice_noise(result, findings.slice_values(dataset, args.slice_col),
                                      column=args.slice_col)
    intervals = findings.class_intervals(result)
    remaining = findings.errors_remaining(result, carry.applicable) if carry.total else None
    hist = history.record_analysis(dataset, result, key=store.key, wrong_interval=intervals.wrong)
    return {"slices": slices, "intervals": intervals, "remaining": remaining, "history": hist}


def _write_set(dataset, result, out, args, plan: dict, carry, *, first: bool = False):
    """One export set at ``out``: the first (before the signals) or the whole one."""
    from dashboard.exporting import write_export_set

    return write_export_set(
        dataset, result, plan["decisions"], out, mode=plan["mode"], carry=carry,
        unreviewed=plan["unreviewed"], intervals=plan["intervals"], slices=plan["slices"],
        remaining=plan["remaining"], history=plan["history"], fmt=args.format,
        removed=args.removed, first=first)


def _extras(result, progress) -> str | None:
    """The neighbour signals, after a line with what they are and how long they should take;
    the message when they cannot be computed (else None)."""
    from analysis.model.neighbours import search_seconds
    from analysis.signals.compute import signal_space

    started = time.perf_counter()
    try:
        X, space, _ = signal_space(result.dataset, result.pred_probs)
        algorithm, seconds = search_seconds(*X.shape)
        print(f"next: the neighbour signals ({len(X):,} rows x {X.shape[1]:,} dimensions of "
              f"the {space}, {algorithm}, about {_duration(seconds)}), then issues.csv and "
              "report.html", file=sys.stderr)
        result.find_signals(progress=progress)
    except (ValueError, MemoryError, OSError) as exc:
        print(file=sys.stderr)
        return f"the neighbour signals could not be computed: {exc}"
    print(f"\rneighbour signals done in {time.perf_counter() - started:.1f} s{' ' * 60}",
          file=sys.stderr)
    return None


def _duration(seconds: float) -> str:
    """``5 s``, ``3 min``: a rounded estimate."""
    return f"{max(1, round(seconds)):,} s" if seconds < 120 else f"{round(seconds / 60):,} min"


def _print_outcome(result, exported, applied: str, carry, out) -> None:
    """What the run found, changed and wrote."""
    print(f"{result.num_issues:,} rows flagged; label health {result.health:.1f}/100; "
          f"cleaned split: {exported.cleaned.rows_out:,} rows -> {exported.files['cleaned']}",
          file=sys.stderr)
    print(f"applied {applied}: {exported.cleaned.relabelled:,} relabelled, "
          f"{exported.cleaned.removed:,} removed, {exported.cleaned.kept:,} confirmed",
          file=sys.stderr)
    if "review_changed_rows" in exported.files:
        print(f"review: {len(carry.gone):,} gone, {len(carry.changed):,} changed since the "
              f"decision: ids in {exported.files['review_changed_rows']}", file=sys.stderr)
    _print_splits(result)
    print(f"wrote {out}/: {' '.join(p.name for p in exported.files.values())}")


def _print_splits(result) -> None:
    """The detector in use and, with a split column, the leakage across splits (stderr)."""
    reason = f": {result.detector_reason}" if result.detector_reason else ""
    print(f"label detector: {result.detector} ({result.probabilities_source}){reason}",
          file=sys.stderr)
    if getattr(result, "model", None):
        print("model: " + result.model["summary"][0], file=sys.stderr)  # the rest: summary.json
    try:
        splits = result.checks.get("splits")
    except ValueError:  # the signals could not be computed: issues.csv says so already
        return
    if not splits:
        return
    rows = ", ".join(f"{k} {v:,}" for k, v in splits["rows_per_split"].items())
    print(f"splits ({splits['column']}: {rows}): {splits['leaking_pairs']:,} near-duplicate "
          f"pair(s) across splits (leakage), {splits['conflicting_pairs']:,} with different "
          "labels", file=sys.stderr)
    for e in splits["examples"][:10]:
        print(f"  {e['id_a']} ({e['split_a']}) ~ {e['id_b']} ({e['split_b']}), distance "
              f"{e['distance']:g}{', labels differ' if e['conflicting'] else ''}",
              file=sys.stderr)
    if splits["leaking_pairs"] > 10:
        print("  ... the first 20 in manifest.json (checks.splits), every row in issues.csv",
              file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "dashboard":
        from dashboard.launch import launch

        return launch(args, extra)
    if args.command == "analyze":
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if multilabel_cli.wanted(args):  # #28
            return multilabel_cli.run(args)
        return analyze_command(args)
    if args.command in ("tasks", "verdicts"):
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return roundtrip_cli.run(args)
    parser.error(f"unknown command {args.command}")  # pragma: no cover
    return 2


if __name__ == "__main__":
    sys.exit(main())
