"""The ``noiselens`` command."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noiselens",
        description="Find, show and fix label errors in a labelled dataset.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    dash = sub.add_parser(
        "dashboard",
        help="open the interactive dashboard (on the bundled digits sample by default)",
        description="Open the interactive dashboard. Extra arguments go to Streamlit.",
    )
    dash.add_argument("--data", help="CSV or Parquet file to open instead of the sample")
    dash.add_argument("--label-col", help="name of the label column of --data")
    dash.add_argument("--host", help="address to listen on (default: localhost, this machine "
                      "only; 0.0.0.0 opens the dashboard, its review and its exports to the "
                      "network)")
    dash.add_argument("--export-dir", help="folder the Review & export page writes to "
                      "(default: the workspace's exports/ folder); it cannot be changed from "
                      "the page")

    run = sub.add_parser(
        "analyze",
        help="run the whole analysis headless and write the results, a report and the "
        "cleaned split",
        description="Analyse a labelled file (or a bundled sample) and write label_issues.csv, "
        "per_class.csv, noise_matrix.csv, summary.json, report.html and the cleaned split "
        "into --out.",
    )
    run.add_argument("data", nargs="?", help="CSV or Parquet file")
    run.add_argument("--sample", help="a bundled sample instead of DATA (e.g. digits)")
    run.add_argument("--label-col", help="label column (default: inferred)")
    run.add_argument("--id-col", help="id column (default: inferred, else the row number)")
    run.add_argument("--text-col", help="text column (default: inferred)")
    run.add_argument("--pred-probs", help=".npy file of out-of-fold probabilities (N x K)")
    run.add_argument("--embeddings", help=".npy file of embeddings (N x D)")
    run.add_argument("--filter-by", default="prune_by_noise_rate",
                     help="label-issue filter (default: prune_by_noise_rate)")
    run.add_argument("--rank-by", default="self_confidence",
                     help="ranking score (default: self_confidence)")
    run.add_argument("--clean", choices=("auto", "reviewed", "suggestions", "none"),
                     default="auto", help="decisions applied to the cleaned split: the review "
                     "made in the dashboard, the detector's suggestions, or none (auto: the "
                     "review if there is one, else the suggestions)")
    run.add_argument("--suggestion-action", choices=("relabel", "remove"), default="relabel",
                     help="with suggestions: relabel flagged rows or remove them")
    run.add_argument("--max-score", type=float, default=1.0,
                     help="with suggestions: only rows whose quality score is at most this")
    run.add_argument("--removed", choices=("drop", "flag"), default="drop",
                     help="drop removed rows or keep them with a flag column")
    run.add_argument("--format", choices=("csv", "parquet"), default="csv",
                     help="format of the cleaned split")
    run.add_argument("--out", required=True, help="output folder (created)")
    return parser


def _fail(message: str) -> int:
    print(f"noiselens: error: {message}", file=sys.stderr)
    return 2


def analyze_command(args) -> int:
    """``noiselens analyze``: the whole pipeline headless."""
    import json
    from pathlib import Path

    import analysis as nl
    from analysis.data import DataError
    from analysis.export import export_split, suggested_decisions, write_table, write_text
    from analysis.issues import FILTERS, RANKINGS
    from analysis.review import ReviewStore

    if (args.data is None) == (args.sample is None):
        return _fail("give either a DATA file or --sample NAME (not both).")
    if args.filter_by not in FILTERS:
        return _fail(f"--filter-by {args.filter_by!r} is not one of: {', '.join(FILTERS)}.")
    if args.rank_by not in RANKINGS:
        return _fail(f"--rank-by {args.rank_by!r} is not one of: {', '.join(RANKINGS)}.")
    try:
        if args.sample:
            dataset = nl.from_sample(args.sample)
        else:
            options = {k: v for k, v in (
                ("id_column", args.id_col), ("text_column", args.text_col),
                ("pred_probs", args.pred_probs), ("embeddings", args.embeddings)) if v}
            dataset = nl.load_dataset(args.data, args.label_col, **options)

        def progress(fraction: float, message: str) -> None:
            print(f"\r  {100 * fraction:3.0f}%  {message[:70]:70s}", end="", file=sys.stderr)

        print(f"analysing {dataset.source}: {len(dataset):,} rows, {dataset.num_classes} "
              "classes", file=sys.stderr)
        result = nl.analyze(dataset, filter_by=args.filter_by, rank_by=args.rank_by,
                            progress=progress)
        print(file=sys.stderr)
    except (DataError, ValueError, KeyError, OSError) as exc:
        return _fail(str(exc))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [str(c) for c in dataset.class_names]
    issues = result.issues_table()
    write_table(issues, out / "label_issues.csv", "csv")
    write_table(result.per_class, out / "per_class.csv", "csv")
    import pandas as pd

    frame = pd.DataFrame(result.estimate.noise_matrix, index=[f"given={n}" for n in names],
                         columns=[f"true={n}" for n in names])
    write_table(frame.reset_index(names="P(given | true)"), out / "noise_matrix.csv", "csv")
    cj = pd.DataFrame(result.estimate.confident_joint, index=[f"given={n}" for n in names],
                      columns=[f"true={n}" for n in names])
    write_table(cj.reset_index(names="confident joint"), out / "confident_joint.csv", "csv")

    store = ReviewStore(dataset.fingerprint, class_names=names)
    reviewed = store.decisions()
    mode = args.clean
    if mode == "auto":
        mode = "reviewed" if len(reviewed) else "suggestions"
    if mode == "reviewed":
        decisions = reviewed
    elif mode == "suggestions":
        decisions = suggested_decisions(result, max_score=args.max_score,
                                        action=args.suggestion_action)
    else:
        decisions = reviewed.iloc[0:0]
    try:
        exported = export_split(dataset, result, decisions, out, fmt=args.format,
                                removed=args.removed, mode=mode)
    except ValueError as exc:
        return _fail(str(exc))

    from dashboard.report import build_report

    write_text(out / "report.html", build_report(dataset, result, cleaned=exported.cleaned))
    summary = {
        "source": dataset.source,
        "rows": len(dataset),
        "classes": names,
        "label_health": round(result.health, 3),
        "estimated_wrong_labels": result.estimated_wrong,
        "flagged": result.num_issues,
        "filter_by": result.filter_by,
        "rank_by": result.rank_by,
        "probabilities": result.probabilities_source,
        "systematic_pairs": [
            {"given": r.given_name, "true": r.true_name, "count": int(r.count),
             "p_given_given_true": round(float(r.p_given_given_true), 4)}
            for r in result.pairs().itertuples() if r.verdict == "systematic"
        ],
        "cleaning": exported.manifest["counts"] | {"decisions": mode},
        "fingerprint": dataset.fingerprint,
    }
    write_text(out / "summary.json", json.dumps(summary, indent=2))
    print(f"{result.num_issues:,} rows flagged; label health {result.health:.1f}/100; "
          f"cleaned split ({mode}): {exported.cleaned.rows_out:,} rows -> "
          f"{exported.files['cleaned']}", file=sys.stderr)
    print(f"wrote {out}/: label_issues.csv per_class.csv noise_matrix.csv confident_joint.csv "
          f"summary.json report.html {exported.files['cleaned'].name} "
          f"{exported.files['changes'].name} manifest.json")
    return 0


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
        return analyze_command(args)
    parser.error(f"unknown command {args.command}")  # pragma: no cover
    return 2


if __name__ == "__main__":
    sys.exit(main())
