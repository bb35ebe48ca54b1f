"""Every benchmark of the project behind one command, summarised in one table.

    python benchmarks/run_all.py            # full sizes (about 30 minutes on 2 cores)
    python benchmarks/run_all.py --quick    # smaller sizes (about 5 minutes)

Runs, each in its own process: core_speed.py (confident learning vs cleanlab, needs the
``reference`` extra), detection_quality.py (F1 vs a plain pipeline), embedding_speed.py
(projections and neighbours) and page_speed.py (dashboard reruns), then prints one table with
the machine it ran on. Each script's own full output is kept with ``--keep DIR``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                   .splitlines() if line.startswith("MemTotal")) / 2**20
    except (OSError, StopIteration):
        mem = float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python "
            f"{platform.python_version()}, {platform.system()} {platform.release()}, load "
            f"{os.getloadavg()[0]:.1f} at start")


def run(script: str, args: list[str], keep: Path | None) -> str:
    start = time.perf_counter()
    print(f"running {script} {' '.join(args)} ...", file=sys.stderr, flush=True)
    proc = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True,
                          text=True, cwd=HERE.parent)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        (keep / f"{Path(script).stem}.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        raise SystemExit(f"{script} failed (exit {proc.returncode}):\n{tail}")
    print(f"  done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return proc.stdout


def core_rows(out: str) -> list[tuple]:
    rows = []
    head = next((line for line in out.splitlines() if line.startswith("N=")), "")
    size = head.split(" float")[0]  # "N=1,000,000 K=100"
    for line in out.splitlines():
        m = re.match(r"(\S+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x\s+(\w+)", line)
        if m:
            name, ours, ref, ratio, same = m.groups()
            rows.append(("core vs cleanlab", f"{name} ({size})", f"{ours} s",
                         f"{ref} s", f"{ratio}x" + ("" if same == "yes" else " DIFFERENT"),
                         "ok" if float(ratio) >= 5 and same == "yes" else "below 5x"))
    return rows


def detection_rows(out: str) -> list[tuple]:
    rows = []
    lines = out.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("Mean F1 per data set"))
    except StopIteration:
        return rows
    for line in lines[start + 2:]:
        parts = line.split()
        if len(parts) < 4 or not re.match(r"^[\d.]+$", parts[1]):
            break
        rows.append(("detection F1", f"{parts[0]} (mean over kinds, rates, seeds)",
                     parts[1], parts[2], parts[3], "better" if float(parts[3]) > 0 else "worse"))
    for line in lines:
        if line.startswith("Timing"):
            rows.append(("detection time", line.split(":", 1)[1].strip(), "", "", "", ""))
        m = re.match(r"\s+\[(met|NOT MET)\] (.*)", line)
        if m:
            rows.append(("detection target", m.group(2), "", "", "", m.group(1)))
    return rows


def embedding_rows(out: str) -> list[tuple]:
    rows = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.match(r"^[\d.]+$", cells[2]):
            rows.append(("projection / kNN", f"{cells[0]}: {cells[1]}", f"{cells[2]} s", "",
                         f"peak {cells[4]} MB", ""))
        elif line.startswith("- ") and "recall" in line:
            rows.append(("projection / kNN", line[2:], "", "", "", ""))
    return rows


def page_rows(out: str) -> list[tuple]:
    rows = []
    for line in out.splitlines():
        m = re.match(r"(.+?)\s{2,}(\w+)\s+([\d.]+)\s+(\d+)\s+(ok|SLOW)$", line)
        if m:
            data, page, first, rerun, ok = m.groups()
            rows.append(("dashboard rerun", f"{page} on {data.strip()}", f"{rerun} ms",
                         "<= 300 ms", f"first open {first} s", ok))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a few minutes")
    parser.add_argument("--keep", type=Path, help="folder for each script's full output")
    parser.add_argument("--skip", default="", help="comma-separated: core,detection,"
                        "embedding,pages")
    args = parser.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    header = machine()
    plan = [
        ("core", "core_speed.py", ["--n", "200000"] if args.quick else [], core_rows),
        ("detection", "detection_quality.py",
         ["--datasets", "digits,wine", "--seeds", "1", "--no-timing"] if args.quick else [],
         detection_rows),
        ("embedding", "embedding_speed.py", ["--rows", "20000"] if args.quick else [],
         embedding_rows),
        ("pages", "page_speed.py", ["--rows", "20000"] if args.quick else [], page_rows),
    ]
    rows = []
    for name, script, extra, parse in plan:
        if name in skip:
            continue
        if name == "core":
            try:
                import cleanlab  # noqa: F401
            except ImportError:
                rows.append(("core vs cleanlab", "skipped: install the 'reference' extra",
                             "", "", "", ""))
                continue
        rows.extend(parse(run(script, extra, args.keep)))
    widths = [max(len(str(r[i])) for r in rows + [_HEAD]) for i in range(6)]
    print(f"# noiselens benchmarks ({'quick' if args.quick else 'full'}) — {header}")
    print(" | ".join(h.ljust(w) for h, w in zip(_HEAD, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


_HEAD = ("benchmark", "case", "noiselens", "reference / target", "ratio / note", "verdict")

if __name__ == "__main__":
    main()
