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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "dashboard":
        from dashboard.launch import launch

        return launch(args, extra)
    parser.error(f"unknown command {args.command}")  # pragma: no cover
    return 2


if __name__ == "__main__":
    sys.exit(main())
