#!/usr/bin/env python3
"""Chapter 08's timeline: the last micro-batch's backward, module by module, and the
gradient buckets' all-reduces on every rank, for one step; and the overlap over all steps.

    python3 plots/ch08_timeline.py OUT.png TRACE.rank0.csv TRACE.rank1.csv ... [--step K]

The traces are written by `mpirun -np N halfway-train --bucket-mb X --trace TRACE` (one file
per rank; columns rank, step, kind, index, begin, end, t0_us, t1_us; times of the steady
clock, which all processes of one machine share; fp32 gradients: the MB labels count 4 bytes
an element). A bucket's end is when the rank first saw
it finished: MPI is asked at every module's end and in the final wait, so the bar can end
late, never early. Prints, per rank, the medians over the steps (the first two left out:
warm-up) of the backward's time, the buckets' communication time (the union of their bars),
the part of it inside the backward (overlapped) and the wait after the backward (exposed).
Without --step the figure shows the step whose rank-0 step time is the median.
"""
import csv
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(paths):
    steps = {}  # (rank, step) -> list of events
    for p in paths:
        with open(p, newline="") as f:
            for r in csv.DictReader(f):
                e = dict(kind=r["kind"], index=int(r["index"]), begin=int(r["begin"]), end=int(r["end"]),
                         t0=float(r["t0_us"]) / 1000, t1=float(r["t1_us"]) / 1000)
                steps.setdefault((int(r["rank"]), int(r["step"])), []).append(e)
    if not steps:
        sys.exit("ch08_timeline.py: expected rows in the traces, found none")
    return steps


def union(intervals):
    total, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def clipped(intervals, lo, hi):
    return [(max(a, lo), min(b, hi)) for a, b in intervals if min(b, hi) > max(a, lo)]


def summary(events):
    back = [e for e in events if e["kind"] == "backward"]
    buckets = [(e["t0"], e["t1"]) for e in events if e["kind"] == "bucket"]
    wait = [e for e in events if e["kind"] == "wait"]
    b0, b1 = min(e["t0"] for e in back), max(e["t1"] for e in back)
    comm = union(buckets)
    inside = union(clipped(buckets, b0, b1))
    exposed = sum(e["t1"] - e["t0"] for e in wait)
    return dict(backward=b1 - b0, comm=comm, overlapped=inside, exposed=exposed, buckets=len(buckets))


def main(argv):
    step = None
    if "--step" in argv:
        i = argv.index("--step")
        step = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    if len(argv) < 2:
        sys.exit("usage: ch08_timeline.py OUT.png TRACE.rank0.csv [TRACE.rank1.csv ...] [--step K]")
    steps = read(argv[1:])
    ranks = sorted({r for r, _ in steps})
    numbers = sorted({s for _, s in steps})
    kept = numbers[2:] if len(numbers) > 4 else numbers
    print("rank  steps  backward ms  buckets  comm ms  overlapped ms  exposed wait ms  (medians)")
    for r in ranks:
        rows = [summary(steps[(r, s)]) for s in kept if (r, s) in steps]
        med = {k: statistics.median(x[k] for x in rows) for k in rows[0]}
        print(f"{r:4d} {len(rows):6d} {med['backward']:12.2f} {med['buckets']:8.0f} {med['comm']:8.2f} "
              f"{med['overlapped']:14.2f} {med['exposed']:16.2f}")
    if step is None:  # the median step of rank 0 by its backward plus wait
        span = {s: summary(steps[(ranks[0], s)]) for s in kept if (ranks[0], s) in steps}
        order = sorted(span, key=lambda s: span[s]["backward"] + span[s]["exposed"])
        step = order[len(order) // 2]
    zero = min(e["t0"] for r in ranks for e in steps.get((r, step), []))
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.9 * len(ranks)))
    colors = ["#4c72b0", "#8fb0d8"]
    for k, r in enumerate(ranks):
        y = (len(ranks) - 1 - k) * 2
        events = steps.get((r, step), [])
        lanes = max(1, sum(e["kind"] == "bucket" for e in events))  # one thin lane per bucket
        for e in events:
            a, w = e["t0"] - zero, e["t1"] - e["t0"]
            if e["kind"] == "backward":
                ax.broken_barh([(a, w)], (y + 1.05, 0.8), color=colors[e["index"] % 2])
            elif e["kind"] == "bucket":
                h = 0.8 / lanes
                ax.broken_barh([(a, w)], (y + 0.95 - (e["index"] + 1) * h, h * 0.85), color="#dd8452")
                ax.text(a + w, y + 0.95 - (e["index"] + 0.5) * h, f" {(e['end'] - e['begin']) * 4 / 1e6:.1f} MB",
                        va="center", fontsize=6)
            else:
                ax.broken_barh([(a, w)], (y + 0.15, 0.8), facecolor="none", edgecolor="#c44e52", hatch="//")
    ax.set_yticks([(len(ranks) - 1 - k) * 2 + t for k in range(len(ranks)) for t in (0.55, 1.45)])
    ax.set_yticklabels([f"rank {r} {lane}" for r in ranks for lane in ("all-reduce", "backward")])
    ax.set_xlabel(f"ms within step {step} (backward: one bar per module, the generator first; "
                  "all-reduce: one bar per bucket; hatched: the wait after the backward)", fontsize=7)
    ax.set_title("Gradient buckets during the backward (measured on the loaded 2-core VM)", fontsize=10)
    fig.tight_layout()
    fig.savefig(argv[0], dpi=100)


if __name__ == "__main__":
    main(sys.argv[1:])
