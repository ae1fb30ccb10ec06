#!/usr/bin/env python3
"""Chapter 08's memory per rank with and without ZeRO-1: the bytes each rank holds for the
fp32 masters, the 16-bit working copies, the gradients and Adam's moments.

    mpirun -np N build/cpu-only/bin/ch08_memory_per_rank > memN.csv     (N = 1, 2, 3)
    python3 plots/ch08_memory.py mem1.csv mem2.csv mem3.csv OUT.png

N = 1, 2, 3 are measured (the rows of rank 0, the largest shard: the first n % N ranks own
one value more); N = 8 and 64 are computed from the N = 1 row: the working copies and
gradients stay whole on every rank, the masters and moments are ceil(n / N) of the store's
n values. Prints the table (markdown) it draws.
"""
import csv
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PARTS = ["masters", "moments", "working", "grads"]
LABELS = {"masters": "fp32 masters", "moments": "Adam m and v (fp32)", "working": "16-bit working copies",
          "grads": "gradients (fp32)"}


def read_rows(paths):
    rows = {}
    for p in paths:
        with open(p, newline="") as f:
            for r in csv.DictReader(f):
                if r["rank"] != "0":
                    continue
                key = (int(r["ranks"]), r["sharded"] == "1")
                rows[key] = {k: int(r[k]) for k in PARTS + ["parameters"]}
                rows[key]["measured"] = True
    if (1, False) not in rows:
        sys.exit("ch08_memory.py: expected the rows of one rank (ranks 1, rank 0), found none")
    return rows


def computed(one, ranks, sharded):
    n_bytes = one["masters"]  # the store's n values x 4 bytes (aligned: padding included)
    n = n_bytes // 4
    shard = math.ceil(n / ranks) if sharded else n
    return {"masters": shard * 4, "moments": 2 * shard * 4, "working": one["working"], "grads": one["grads"],
            "parameters": one["parameters"], "measured": False}


def main(args):
    if len(args) < 2:
        sys.exit("usage: ch08_memory.py mem1.csv [mem2.csv ...] OUT.png")
    rows = read_rows(args[:-1])
    one = rows[(1, False)]
    for ranks in (8, 64):
        for sharded in (False, True):
            rows.setdefault((ranks, sharded), computed(one, ranks, sharded))
    keys = sorted(rows)
    print("| ranks | ZeRO-1 | masters | moments | working | gradients | total per rank (MiB) | |")
    print("|---|---|---|---|---|---|---|---|")
    mib = 1 << 20
    for k in keys:
        r = rows[k]
        total = sum(r[p] for p in PARTS)
        print(f"| {k[0]} | {'yes' if k[1] else 'no'} | " + " | ".join(f"{r[p] / mib:.2f}" for p in PARTS) +
              f" | {total / mib:.2f} | {'measured' if r['measured'] else 'computed'} |")
    fig, ax = plt.subplots(figsize=(9, 4.5))
    x, names = [], []
    for i, k in enumerate(keys):
        r = rows[k]
        bottom = 0
        for j, p in enumerate(PARTS):
            ax.bar(i, r[p] / mib, bottom=bottom, color=f"C{j}", label=LABELS[p] if i == 0 else None,
                   hatch=None if r["measured"] else "//", edgecolor="white")
            bottom += r[p] / mib
        names.append(f"N={k[0]}\n{'ZeRO-1' if k[1] else 'replicated'}\n{'measured' if r['measured'] else 'computed'}")
        x.append(i)
    ax.set_xticks(x, names, fontsize=7)
    ax.set_ylabel("MiB per rank (rank 0)")
    ax.set_title(f"Training state per rank, fp16 with fp32 masters ({one['parameters'] / 1e6:.2f}M parameters)")
    ax.set_ylim(0, 1.3 * max(sum(rows[k][p] for p in PARTS) for k in keys) / mib)
    ax.legend(fontsize=8, ncol=2, loc="upper right")
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args[-1], dpi=100)


if __name__ == "__main__":
    main(sys.argv[1:])
