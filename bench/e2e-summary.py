#!/usr/bin/env python3
"""Summarises a bench/e2e TSV: medians per test and implementation, CPU, and the median of the
per-round ratios (java/c, java1/c, the c2/c control). Usage: e2e-summary.py RESULTS.tsv COMMAND [ENVIRONMENT]"""
import csv
import math
import statistics
import sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
command = sys.argv[2]
environment = sys.argv[3] if len(sys.argv) > 3 else ""
val = defaultdict(dict)   # (test, offloads) -> impl -> {round: value}
cpu = defaultdict(dict)
for r in rows:
    key = (r["test"], r["offloads"])
    v = float(r["value"])
    if math.isnan(v):
        continue
    val[key].setdefault(r["impl"], {})[r["round"]] = v
    if r["cpu"] != "-":
        cpu[key].setdefault(r["impl"], {})[r["round"]] = float(r["cpu"])
veth = {t: val.get((t, "veth"), {}).get("veth", {}) for t in ("tcp", "udp64")}


def med(d):
    return statistics.median(d.values()) if d else float("nan")


def ratio(a, b):
    rs = [a[k] / b[k] for k in a if k in b and b[k] > 0]
    return (statistics.median(rs), len(rs)) if rs else (float("nan"), 0)


def fmt(v, unit):
    if math.isnan(v):
        return "–"
    return f"{v:.2f}" if unit == "Gbit/s" else f"{v / 1e3:.0f} k"


rounds = len({r["round"] for r in rows})
out = [f"Command: `{command}` ({rounds} round{'s' if rounds != 1 else ''}; TCP in Gbit/s, 64-byte UDP in frames/s received; "
       "UDP = InDatagrams delta in the receiving namespace over the run; CPU = forwarder's utime+stime over the run, % of one core; ratios are medians of per-round ratios). "
       + environment + ".", "",
       "java = `nettap forward` as it runs by default (`--threads 2`: a thread per direction); java1 = `--threads 1` (one thread for both directions).", "",
       "| test | offloads | java (CPU) | java1 (CPU) | c (CPU) | c2 control (CPU) | veth | java/c | java/c CPU | java1/c | java1/c CPU | c2/c |",
       "|---|---|---|---|---|---|---|---|---|---|---|---|"]
for key in [("tcp", "on"), ("tcp", "off"), ("udp64", "on")]:
    unit = "Gbit/s" if key[0] == "tcp" else "frames/s"
    impl = val.get(key, {})
    c = cpu.get(key, {})
    cells = []
    for name in ("java", "java1", "c", "c2"):
        cells.append(f"{fmt(med(impl.get(name, {})), unit)} ({med(c.get(name, {})):.0f} %)")
    jr, _ = ratio(impl.get("java", {}), impl.get("c", {}))
    cr, _ = ratio(c.get("java", {}), c.get("c", {}))
    j1r, _ = ratio(impl.get("java1", {}), impl.get("c", {}))
    c1r, _ = ratio(c.get("java1", {}), c.get("c", {}))
    nr, _ = ratio(impl.get("c2", {}), impl.get("c", {}))
    out.append(f"| {key[0]} {unit} | {key[1]} | " + " | ".join(cells)
               + f" | {fmt(med(veth[key[0]]), unit)} | {jr:.3f} | {cr:.2f} | {j1r:.3f} | {c1r:.2f} | {nr:.3f} |")
for name in ("java", "java1", "c"):
    on = val.get(("tcp", "on"), {}).get(name, {})
    off = val.get(("tcp", "off"), {}).get(name, {})
    r, _ = ratio(on, off)
    out.append("")
    out.append(f"Offloads on/off, TCP, {name}: {r:.2f}×.")
print("\n".join(out))
