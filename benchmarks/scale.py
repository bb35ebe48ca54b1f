"""The core at scale (issue #18): out of core on a big ``.npy`` file against cleanlab's
``find_label_issues_batched`` on the same file, and a Dask ``LocalCluster`` against NumPy.

    python benchmarks/scale.py                      # 10M x 100 float32 (a 4 GB .npy)
    python benchmarks/scale.py --rows 1000000       # 1M x 100 (400 MB)
    python benchmarks/scale.py --rows 200000 --skip-dask

Each measurement runs in a fresh child process (numba kernels loaded from the on-disk cache
by a warm-up call on a small file first), once per repeat, the best time kept. The file is
read through the page cache (a warm-up pass reads it first): the times are CPU and memory
bandwidth, not the disk. Peak memory is the child's peak *anonymous* memory (``RssAnon``,
sampled every 20 ms, above what it held before the timed call): what the call allocates.
The pages of the memory-mapped file are the kernel's page cache (``RssFile``, reported
apart), evictable, not the process's.

cleanlab's batched function approximates ``filter_by="low_self_confidence"`` ranked by
self-confidence; noiselens runs that filter exactly (same rows as the in-memory call) and its
default ``prune_by_noise_rate`` (one more pass). Equal outputs are checked: noiselens chunked
against noiselens in memory (on the first ``--check-rows`` rows' file), Dask against NumPy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

CHILD_PRELUDE = textwrap.dedent(
    """
    import json, sys, threading, time, warnings
    warnings.filterwarnings("ignore")
    sys.path.insert(0, {root!r})
    import numpy as np
    peak = {{"anon": 0, "file": 0}}
    stop = False
    def _status():
        out = {{}}
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(("RssAnon:", "RssFile:")):
                    key, value = line.split(":")
                    out[key] = int(value.split()[0]) * 1024
        return out
    def _sample():
        while not stop:
            s = _status()
            peak["anon"] = max(peak["anon"], s.get("RssAnon", 0))
            peak["file"] = max(peak["file"], s.get("RssFile", 0))
            time.sleep(0.02)
    """
)


def _run_child(body: str, root: Path = ROOT) -> dict:
    code = CHILD_PRELUDE.format(root=str(root)) + textwrap.dedent(
        """
        base = _status().get("RssAnon", 0)
        threading.Thread(target=_sample, daemon=True).start()
        result = {}
        """
    ) + textwrap.dedent(body) + textwrap.dedent(
        """
        stop = True
        time.sleep(0.05)
        result["peak_anon"] = max(peak["anon"], base)
        result["base_anon"] = base
        result["peak_file"] = peak["file"]
        print("RESULT" + json.dumps(result))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=str(root))
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[6:])
    raise RuntimeError(f"child failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def make_file(path: Path, labels_path: Path, n: int, k: int, seed: int = 0) -> None:
    """Labels with 10 % noise and float32 probabilities peaked at the true class (a model of
    ~90 % accuracy), written in blocks (never the whole array in memory)."""
    from numpy.lib.format import open_memmap

    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    given = true.copy()
    flip = rng.random(n) < 0.1
    given[flip] = rng.integers(0, k, int(flip.sum()))
    np.save(labels_path, given)
    out = open_memmap(path, mode="w+", dtype=np.float32, shape=(n, k))
    step = 200_000
    for s in range(0, n, step):
        e = min(n, s + step)
        logits = rng.standard_normal((e - s, k), dtype=np.float32)
        logits[np.arange(e - s), true[s:e]] += 5 + 2 * rng.random(e - s, dtype=np.float32)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        out[s:e] = logits
    out.flush()
    del out


NOISELENS = """
import analysis as nl
labels = np.load({labels!r})
nl.find_label_issues(np.load({small_labels!r}), {small!r})  # kernels from the disk cache
base = _status().get("RssAnon", 0)
peak["anon"] = 0
t = time.perf_counter()
out = {call}
result["seconds"] = time.perf_counter() - t
out = np.asarray(out)
result["flagged"] = int(out.sum()) if out.dtype == bool else (out.size if out.ndim == 1 and
                                                              out.dtype.kind == "i" else -1)
np.save({out_path!r}, np.asarray(out))
"""

CLEANLAB = """
from cleanlab.experimental.label_issues_batched import find_label_issues_batched
labels = np.load({labels!r})
probs = np.load({probs!r}, mmap_mode="r")
find_label_issues_batched(labels=np.load({small_labels!r}),
                          pred_probs=np.load({small!r}, mmap_mode="r"), verbose=False)
base = _status().get("RssAnon", 0)
peak["anon"] = 0
t = time.perf_counter()
out = find_label_issues_batched(labels=labels, pred_probs=probs, batch_size={batch},
                                verbose=False)
result["seconds"] = time.perf_counter() - t
result["flagged"] = int(len(out))
"""

DASK = """
import dask.array as da
from dask.distributed import Client, LocalCluster
import analysis as nl
labels = np.load({labels!r})
with LocalCluster(n_workers={workers}, threads_per_worker=1, processes=True,
                  dashboard_address=None) as cluster, Client(cluster):
    arr = da.from_zarr({zarr_path!r})  # as on shared storage: workers read their chunks
    small = da.from_array(np.load({small!r}), chunks=(1000, -1))
    nl.find_label_issues(np.load({small_labels!r}), small)  # workers load the kernels
    base = _status().get("RssAnon", 0)
    peak["anon"] = 0
    t = time.perf_counter()
    out = nl.find_label_issues(labels, arr)
    result["seconds"] = time.perf_counter() - t
np.save({out_path!r}, out)
result["flagged"] = int(out.sum())
"""


def _best(body: str, repeats: int, **fmt) -> dict:
    runs = [_run_child(body.format(**fmt)) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["seconds"])
    best["peak_anon"] = max(r["peak_anon"] for r in runs)
    return best


def _mb(b: int) -> str:
    return f"{b / 2**20:,.0f} MB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--dask-rows", type=int, default=1_000_000,
                    help="rows of the Dask comparison (default 1M)")
    ap.add_argument("--check-rows", type=int, default=1_000_000,
                    help="rows of the chunked-vs-in-memory equality check")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-cleanlab", action="store_true")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--dir", default=None, help="folder for the files (default: a temp dir)")
    ap.add_argument("--json", help="also write the rows as JSON here")
    args = ap.parse_args(argv)

    work = Path(args.dir or tempfile.mkdtemp(prefix="noiselens-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    n, k = args.rows, args.classes
    files = {}
    for name, rows in (("big", n), ("check", min(n, args.check_rows)),
                       ("dask", min(n, args.dask_rows)), ("small", 2000)):
        probs, labels = work / f"{name}_{rows}x{k}.npy", work / f"{name}_{rows}_labels.npy"
        if not probs.exists():
            t = time.perf_counter()
            make_file(probs, labels, rows, k, seed=rows)
            print(f"wrote {probs} ({_mb(probs.stat().st_size)}) in "
                  f"{time.perf_counter() - t:.0f} s", file=sys.stderr)
        files[name] = (str(probs), str(labels))
    big, big_labels = files["big"]
    small, small_labels = files["small"]
    with open(big, "rb") as fh:  # into the page cache
        while fh.read(64 << 20):
            pass

    rows_out = []

    def row(what, res, note=""):
        rows_out.append({"what": what, "seconds": res["seconds"], "flagged": res["flagged"],
                         "peak_anon": res["peak_anon"] - res["base_anon"],
                         "peak_file": res["peak_file"], "note": note})
        print(f"  {what}: {res['seconds']:.2f} s", file=sys.stderr)

    common = dict(labels=big_labels, small=small, small_labels=small_labels)
    out = str(work / "out.npy")
    print(f"{n:,} x {k} float32 ({_mb(os.path.getsize(big))}) ...", file=sys.stderr)
    calls = {
        "noiselens low_self_confidence (chunked .npy)":
            f"nl.find_label_issues(labels, {big!r}, filter_by='low_self_confidence', "
            "rank_by='self_confidence')",
        "noiselens prune_by_noise_rate (chunked .npy)": f"nl.find_label_issues(labels, {big!r})",
        "noiselens estimate_noise (chunked .npy)":
            f"nl.estimate_noise(labels, {big!r}).confident_joint",
        "noiselens label_quality_scores (chunked .npy)":
            f"nl.label_quality_scores(labels, {big!r})",
    }
    for what, call in calls.items():
        row(what, _best(NOISELENS, args.repeats, call=call, out_path=out, **common))
    if not args.skip_cleanlab:
        res = _best(CLEANLAB, args.repeats, probs=big, batch=100_000, **common)
        row("cleanlab find_label_issues_batched (memmap, batch 100k)", res,
            "approximates low_self_confidence")

    # equal outputs: chunked against in memory
    check, check_labels = files["check"]
    cl = dict(labels=check_labels, small=small, small_labels=small_labels)
    a = _run_child(NOISELENS.format(call=f"nl.find_label_issues(labels, {check!r})",
                                    out_path=str(work / "a.npy"), **cl))
    b = _run_child(NOISELENS.format(call=f"nl.find_label_issues(labels, np.load({check!r}))",
                                    out_path=str(work / "b.npy"), **cl))
    same_chunked = bool(np.array_equal(np.load(work / "a.npy"), np.load(work / "b.npy")))
    rows_out.append({"what": f"in memory (np.load) at {os.path.getsize(check) // (4 * k):,} "
                     "rows", "seconds": b["seconds"], "flagged": b["flagged"],
                     "peak_anon": b["peak_anon"] - b["base_anon"], "peak_file": b["peak_file"],
                     "note": f"chunked .npy {a['seconds']:.2f} s, equal: {same_chunked}"})

    if not args.skip_dask:
        dprobs, dlabels = files["dask"]
        dl = dict(labels=dlabels, small=small, small_labels=small_labels)
        numpy_res = _run_child(NOISELENS.format(
            call=f"nl.find_label_issues(labels, np.load({dprobs!r}))",
            out_path=str(work / "np.npy"), **dl))
        zarr_path = str(work / f"dask_{Path(dprobs).stem}.zarr")
        if not Path(zarr_path).exists():
            import zarr

            src = np.load(dprobs, mmap_mode="r")
            z = zarr.open_array(zarr_path, mode="w", shape=src.shape, dtype=src.dtype,
                                chunks=(250_000, k))
            for s in range(0, src.shape[0], 250_000):
                z[s:s + 250_000] = src[s:s + 250_000]
        dask_res = _run_child(DASK.format(zarr_path=zarr_path, workers=args.workers,
                                          out_path=str(work / "dask.npy"), **dl))
        same = bool(np.array_equal(np.load(work / "np.npy"), np.load(work / "dask.npy")))
        nrows = os.path.getsize(dprobs) // (4 * k)
        for what, res in ((f"NumPy in memory, {nrows:,} rows", numpy_res),
                          (f"Dask LocalCluster ({args.workers} workers), {nrows:,} rows",
                           dask_res)):
            row(what, res, f"equal outputs: {same}")

    print(f"\n{n:,} rows x {k} classes, float32, {_mb(os.path.getsize(big))} .npy; "
          f"{os.cpu_count()} CPUs\n")
    print("| what | seconds | flagged | peak anon. memory | peak file pages | note |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows_out:
        flagged = f"{r['flagged']:,}" if r["flagged"] >= 0 else "-"
        print(f"| {r['what']} | {r['seconds']:.2f} | {flagged} | {_mb(r['peak_anon'])} "
              f"| {_mb(r['peak_file'])} | {r['note']} |")
    times = {r["what"]: r["seconds"] for r in rows_out}
    cl_key = "cleanlab find_label_issues_batched (memmap, batch 100k)"
    if cl_key in times:
        for key in list(calls)[:2]:
            print(f"\ncleanlab batched / {key}: {times[cl_key] / times[key]:.1f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(rows_out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
