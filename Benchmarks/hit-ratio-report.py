#!/usr/bin/env python3
"""Hit ratios of `analytics-cache simulate` next to libCacheSim's reference algorithms.

Usage: Benchmarks/hit-ratio-report.py TRACE_DIR REFSIM_TSV_DIR [--bin PATH] [--weighted]

REFSIM_TSV_DIR holds `<trace file name>.tsv` as printed by refsim.py (libCacheSim: LRU, ARC,
WTinyLFU, S3FIFO, Belady) for the same traces; run it with the sizes wanted. Prints a Markdown table
with the gaps (in points) to W-TinyLFU and LRU, and to Belady (the offline optimum); the goals are
"never more than 0.5 points below W-TinyLFU, never more than 1 point below LRU".
"""
import argparse, csv, os, subprocess, sys

p = argparse.ArgumentParser()
p.add_argument("traces")
p.add_argument("refsim")
p.add_argument("--bin", default=".build/release/analytics-cache")
p.add_argument("--weighted", action="store_true",
               help="also replay each trace byte-weighted (simulate --weights lognormal) and show it next to the count-bound run")
args = p.parse_args()

rows = []
for name in sorted(os.listdir(args.traces)):
    if not name.endswith(".keys"):
        continue
    tsv = os.path.join(args.refsim, name + ".tsv")
    if not os.path.exists(tsv):
        print(f"# no reference for {name}", file=sys.stderr)
        continue
    ref = {}
    with open(tsv) as f:
        for r in csv.DictReader((l for l in f if not l.startswith("#")), delimiter="\t"):
            try:
                ref[(r["algo"], int(r["cache_size"]))] = float(r["hit_ratio"])
            except (ValueError, KeyError):
                pass
    sizes = sorted({s for (_, s) in ref})
    for size in sizes:
        def run(weights):
            out = subprocess.run([args.bin, "simulate", "--capacity", str(size), "--weights", weights,
                                  os.path.join(args.traces, name)], check=True, capture_output=True, text=True).stdout.strip()
            return float(out.rsplit("hit_ratio=", 1)[1])
        ours = run("unit")
        weighted = run("lognormal") if args.weighted else None
        rows.append((name, size, ours, ref.get(("WTinyLFU", size)), ref.get(("LRU", size)),
                     ref.get(("ARC", size)), ref.get(("S3FIFO", size)), ref.get(("Belady", size)), weighted))

def pct(x):
    return "NA" if x is None else f"{100 * x:.2f}"

def gap(a, b):
    return "NA" if b is None else f"{100 * (a - b):+.2f}"

wcol = " weighted |" if args.weighted else ""
print("| trace | size | ours |" + wcol + " W-TinyLFU | LRU | ARC | S3-FIFO | Belady | vs W-TinyLFU | vs LRU | to Belady |")
print("|---|---:|---:|" + ("---:|" if args.weighted else "") + "---:|---:|---:|---:|---:|---:|---:|---:|")
misses = []
for (name, size, ours, w, lru, arc, s3, bel, weighted) in rows:
    wv = f" {pct(weighted)} |" if args.weighted else ""
    print(f"| {name} | {size} | {pct(ours)} |{wv} {pct(w)} | {pct(lru)} | {pct(arc)} | {pct(s3)} | {pct(bel)} "
          f"| {gap(ours, w)} | {gap(ours, lru)} | {gap(ours, bel)} |")
    if (w is not None and ours < w - 0.005) or (lru is not None and ours < lru - 0.01):
        misses.append((name, size))
print()
print(f"goal misses: {len(misses)} of {len(rows)}" + ("" if not misses else ": " + ", ".join(f"{n}@{s}" for n, s in misses)))
