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
DEFAULT = {"on": "java1", "off": "java2"}  # what `nettap forward` runs without --threads
out = [f"Command: `{command}` ({rounds} round{'s' if rounds != 1 else ''}; TCP in Gbit/s, 64-byte UDP in frames/s received; "
       "UDP = InDatagrams delta in the receiving namespace over the run; CPU = forwarder's utime+stime over the run, % of one core; ratios are medians of per-round ratios). "
       + environment + ".", "",
       "java1 = `nettap forward --threads 1` (one thread for both directions), java2 = `--threads 2` (a thread per direction); "
       "**default** = what `nettap forward` runs without `--threads` (java1 with offloads on, java2 with them off), "
       "and its ratios to C are the ones the targets are about.", "",
       "| test | offloads | java1 (CPU) | java2 (CPU) | c (CPU) | c2 control (CPU) | veth | default | default/c | default/c CPU | other/c | other/c CPU | c2/c |",
       "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
for key in [("tcp", "on"), ("tcp", "off"), ("udp64", "on")]:
    unit = "Gbit/s" if key[0] == "tcp" else "frames/s"
    impl = val.get(key, {})
    c = cpu.get(key, {})
    cells = []
    for name in ("java1", "java2", "c", "c2"):
        cells.append(f"{fmt(med(impl.get(name, {})), unit)} ({med(c.get(name, {})):.0f} %)")
    default = DEFAULT[key[1]]
    other = "java2" if default == "java1" else "java1"
    dr, _ = ratio(impl.get(default, {}), impl.get("c", {}))
    dc, _ = ratio(c.get(default, {}), c.get("c", {}))
    orr, _ = ratio(impl.get(other, {}), impl.get("c", {}))
    oc, _ = ratio(c.get(other, {}), c.get("c", {}))
    nr, _ = ratio(impl.get("c2", {}), impl.get("c", {}))
    out.append(f"| {key[0]} {unit} | {key[1]} | " + " | ".join(cells)
               + f" | {fmt(med(veth[key[0]]), unit)} | {default} | **{dr:.3f}** | **{dc:.2f}** | {orr:.3f} | {oc:.2f} | {nr:.3f} |")
on_d = val.get(("tcp", "on"), {}).get(DEFAULT["on"], {})
off_d = val.get(("tcp", "off"), {}).get(DEFAULT["off"], {})
r, _ = ratio(on_d, off_d)
out.append("")
out.append(f"Offloads on/off, TCP, `nettap forward` defaults (java1 on / java2 off): {r:.2f}×.")
for name in ("java1", "java2", "c"):
    on = val.get(("tcp", "on"), {}).get(name, {})
    off = val.get(("tcp", "off"), {}).get(name, {})
    r, _ = ratio(on, off)
    out.append("")
    out.append(f"Offloads on/off, TCP, {name}: {r:.2f}×.")
print("\n".join(out))
