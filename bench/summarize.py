#!/usr/bin/env python3
"""Turns one bench/jmh run into the BENCHMARKS.md table: medians of the JMH measurement
iterations, the C references' medians, speed ratios and the allocation per op.

usage: bench/summarize.py target/c/results.txt target/jmh-result.json
A ratio is C time / Java time: above 1 the Java code is faster."""
import json
import statistics
import sys

c = {}
for line in open(sys.argv[1]):
    tag, case, size, ns, _ = line.split()
    c[(tag, case, int(size))] = float(ns)

java = {}
for r in json.load(open(sys.argv[2])):
    name = r["benchmark"].rsplit(".", 2)
    key = name[-2] + "." + name[-1]
    size = int(r.get("params", {}).get("size", 0))
    raw = [x for fork in r["primaryMetric"]["rawData"] for x in fork]
    sm = r.get("secondaryMetrics", {})
    alloc = (sm.get("gc.alloc.rate.norm") or sm.get("·gc.alloc.rate.norm") or {}).get("score")
    java[(key, size)] = (statistics.median(raw), min(raw), max(raw), len(raw), alloc)


def fmt(x):
    if x is None:
        return "—"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 1000 else f"{x:.0f}"


def ratio(cns, jns):
    return "—" if cns is None or jns is None else f"{cns / jns:.2f}×"


def alloc(a):
    return "—" if a is None else f"{a:.3g}"


rows = []
for size in (20, 64, 1500, 65535):
    rows.append((f"RFC 1071, {size} B", ("ChecksumBench.fast", size), ("ChecksumBench.reference", size),
                 "rfc1071", size))
rows.append(("IPv4 header checksum (IHL 5)", ("Ipv4HeaderBench.ipv4HeaderChecksum", 0), None, "ipv4Header", 20))
rows.append(("IPv4 header checksum + store", ("Ipv4HeaderBench.setIpv4HeaderChecksum", 0), None, None, 0))
rows.append(("virtio-net header build (TSO4), setter per field", ("HeaderBench.build", 0), None, "hdrBuild", 12))
rows.append(("virtio-net header build, VirtioNetHdr.set", ("HeaderBench.buildAtOnce", 0), None, "hdrBuild", 12))
rows.append(("virtio-net header parse, getter per field", ("HeaderBench.parse", 0), None, "hdrParse", 12))
rows.append(("virtio-net header parse, VirtioNetHdr.read", ("HeaderBench.parseAtOnce", 0), None, "hdrParse", 12))
rows.append(("TX TSO4 translation, NDIS fix-ups", ("TranslateBench.txTso4WithFixups", 0), None, None, 0))
rows.append(("TX TSO4 translation, frame correct", ("TranslateBench.txTso4AlreadyCorrect", 0), None, None, 0))
rows.append(("TX refusal, malformed frame (refused last: gso_size 65535)", ("TranslateBench.txRefusedLate", 0), None, None, 0))
rows.append(("TX refusal, malformed frame (refused first: lengths)", ("TranslateBench.txRefusedEarly", 0), None, None, 0))
rows.append(("RX parse, TSO4 header", ("TranslateBench.rxParseTso4", 0), None, None, 0))
rows.append(("JMH harness baseline (returns a field)", ("HeaderBench.baseline", 0), None, None, 0))

print("| Work (median ns/op)                 | Java | Java min–max | Java reference | C `-O2` | C `-O3 -march=native` "
      "| C `-O2` / Java | C `-O3 native` / Java | B/op |")
print("|-------------------------------------|-----:|-------------:|---------------:|--------:|----------------------:"
      "|---------------:|----------------------:|-----:|")
for label, jk, rk, ccase, csize in rows:
    j = java.get(jk)
    if j is None:
        continue
    ref = java.get(rk) if rk else None
    o2 = c.get(("c-O2", ccase, csize)) if ccase else None
    o3 = c.get(("c-O3-march=native", ccase, csize)) if ccase else None
    print(f"| {label} | {fmt(j[0])} | {fmt(j[1])}–{fmt(j[2])} | {fmt(ref[0]) if ref else '—'} | {fmt(o2)} | {fmt(o3)} "
          f"| {ratio(o2, j[0])} | {ratio(o3, j[0])} | {alloc(j[4])} |")
