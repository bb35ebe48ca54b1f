"""The #17 findings measured: the report's size as HTML and PDF at 2, 20 and 100 classes (and
the vendor sample with every section), and the coverage of the errors-remaining interval in
simulated reviews with known truth.

    python benchmarks/findings_report.py                 # prints two tables
    python benchmarks/findings_report.py --shots DIR     # also keeps the HTML, PDF and PNGs

The PDF and the screenshots use Chromium (``/usr/bin/chromium``) if it is there; report
generation itself never needs a browser.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from findings_cases import report_case, review_world  # noqa: E402

import analysis as nl  # noqa: E402
from analysis.review import findings, history  # noqa: E402
from dashboard.report import build_report  # noqa: E402


def vendors():
    ds = nl.from_sample("digits_vendors")
    result = nl.analyze(ds, detector="confident_learning")  # the figures the README quotes
    slices = findings.slice_noise(result, findings.slice_values(ds, "vendor"), column="vendor")
    truth = ds.true_labels != ds.labels
    rows = result.ranked[:60]
    decisions = pd.DataFrame({"id": ds.ids[rows].astype(str),
                              "action": np.where(truth[rows], "relabel", "keep")})
    remaining = findings.errors_remaining(result, decisions)
    old = history.make_record(ds, result, when=time.time() - 7 * 86400) | {
        "fingerprint": "an earlier version", "estimated_wrong": 171, "health": 90.5}
    hist = history.History("k", [old, history.make_record(ds, result)])
    return ds, result, {"slices": slices, "remaining": remaining, "history": hist}


def chromium(args: list[str]) -> bool:
    exe = shutil.which("chromium")
    if exe is None:
        return False
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", *args],
                   capture_output=True, timeout=180, check=False)
    return True


def report_table(out: Path) -> None:
    print("report                     classes  HTML KiB  PDF KiB  PDF pages  build s")
    print("-" * 76)
    cases = [(f"generated, {k} classes", *report_case(k), {}) for k in (2, 20, 100)]
    cases.append(("digits_vendors, all parts", *vendors()))
    for name, ds, result, extra in cases:
        t = time.perf_counter()
        page = build_report(ds, result, **extra)
        took = time.perf_counter() - t
        stem = name.split(",")[0] + f"_{ds.num_classes}"
        html = out / f"report_{stem}.html"
        html.write_text(page, encoding="utf-8")
        pdf = out / f"report_{stem}.pdf"
        pdf_kib, pages = "-", "-"
        if chromium([f"--print-to-pdf={pdf}", "--no-pdf-header-footer", html.as_uri()]):
            data = pdf.read_bytes()
            pdf_kib = f"{len(data) / 1024:.0f}"
            pages = str(data.count(b"/Type /Page\n") or data.count(b"/Type /Page"))
            chromium([f"--screenshot={out / f'report_{stem}.png'}", "--window-size=1100,4000",
                      html.as_uri()])
        print(f"{name:26s} {ds.num_classes:7d} {len(page.encode()) / 1024:9.0f} "
              f"{pdf_kib:>8s} {pages:>10s} {took:8.2f}")


def coverage_table(runs: int) -> None:
    cov = {"all unreviewed": 0, "flagged, unreviewed": 0, "unflagged": 0, "naive": 0}
    width = {k: [] for k in cov}
    for seed in range(runs):
        m, flagged, reviewed, truth = review_world(seed)
        est = findings.remaining_from(m, flagged, reviewed, truth & reviewed)
        left = truth & ~reviewed
        for key, iv, true in (("all unreviewed", est.remaining, left.sum()),
                              ("flagged, unreviewed", est.remaining_flagged,
                               (left & flagged).sum()),
                              ("unflagged", est.remaining_unflagged, (left & ~flagged).sum())):
            cov[key] += iv.low <= true <= iv.high
            width[key].append(iv.high - iv.low)
        # the naive estimate: flagged-not-reviewed x the precision so far (its interval)
        open_flagged = int((flagged & ~reviewed).sum())
        p = est.precision
        lo, hi = open_flagged * p.low, open_flagged * p.high
        cov["naive"] += lo <= (left & flagged).sum() <= hi
        width["naive"].append(hi - lo)
    print(f"\n{runs} simulated reviews in rank order (2,000 rows; truth: the model's odds of a "
          "wrong label off by a random factor e^U(-1, 1))")
    print("part                      covered  mean width")
    print("-" * 46)
    for key in cov:
        label = key if key != "naive" else "naive: flagged x precision"
        print(f"{label:26s} {cov[key]:4d}/{runs}  {np.mean(width[key]):9.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=Path, help="keep the HTML, PDF and PNG files here")
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.shots or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        report_table(out)
    coverage_table(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
