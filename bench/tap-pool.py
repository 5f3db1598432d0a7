#!/usr/bin/env python3
"""Pools every bench/tap run kept in target/bench: per run, the C and Java medians (ns/op) and the
Java/C frames-per-second ratio (of the medians, and the median of the per-round ratios); then all
paired rounds together.
Usage: bench/tap-pool.py [RUN_PREFIX ...]   (default: every target/bench/tap-*.c.txt)"""
import glob, json, os, statistics as st, sys

runs = [a for a in sys.argv[1:]] or sorted(f[:-6] for f in glob.glob("target/bench/tap-*.c.txt"))
pooled = {}
for out in runs:
    c, j = {}, {}
    for line in open(out + ".c.txt"):
        f = line.split()  # round R c SIZE NS ns/op ...
        c.setdefault(int(f[3]), []).append(float(f[4]))
    for r in range(1, len(c[min(c)]) + 1):
        names = [f"{out}.java-{r}.json"] if os.path.exists(f"{out}.java-{r}.json") \
            else [f"{out}.java-{r}-{s}.json" for s in sorted(c)]
        for fn in names:
            for b in json.load(open(fn)):
                j.setdefault(int(b["params"]["size"]), []).append(b["primaryMetric"]["score"])
    cells = []
    for size in sorted(c):
        ratios = [cn / jn for cn, jn in zip(c[size], j[size])]
        pooled.setdefault(size, []).extend(ratios)
        cm, jm = st.median(c[size]), st.median(j[size])
        cells.append(f"{size} B: C {cm:.1f} ns, Java {jm:.1f} ns, Java/C {cm / jm:.3f} (median of rounds {st.median(ratios):.3f}, n={len(ratios)})")
    print(os.path.basename(out), "  ".join(cells))
for size, v in sorted(pooled.items()):
    print(f"pooled {size:>6}: {len(v)} paired rounds, median Java/C {st.median(v):.3f} (min {min(v):.3f}, max {max(v):.3f})")
