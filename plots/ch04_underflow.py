#!/usr/bin/env python3
"""Chapter 04's underflow figure: the distribution of log2|g| for every activation gradient
and every kind of parameter gradient of the seed's model, at initialisation and after
training, against fp16's range (smallest subnormal 2^-24, smallest normal 2^-14, largest
65504); bf16's range (2^-133 .. 2^128) lies far outside the plotted span.

    python3 plots/ch04_underflow.py HIST.csv OUT.png

HIST.csv is written by `ch04_underflow --hist HIST.csv` (columns phase, tensor, log2_lo,
count: unit bins of log2|g| over the nonzero values).
"""
import collections
import csv
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FP16 = [(-24, "fp16 smallest subnormal 2^-24"), (-14, "fp16 smallest normal 2^-14"),
        (math.log2(65504), "fp16 largest 65504")]


def main(args):
    if len(args) != 2:
        sys.exit("usage: ch04_underflow.py HIST.csv OUT.png")
    data = collections.OrderedDict()
    with open(args[0], newline="") as f:
        for r in csv.DictReader(f):
            data.setdefault(r["phase"], collections.OrderedDict()).setdefault(r["tensor"], {})[int(r["log2_lo"])] = int(r["count"])
    if not data:
        sys.exit(f"ch04_underflow.py: expected rows in {args[0]}, found none")
    phases = list(data)
    fig, axes = plt.subplots(len(phases), 2, figsize=(12, 3.6 * len(phases)), squeeze=False, sharex=True)
    for row, phase in enumerate(phases):
        for col, kind in enumerate(("act", "param")):
            ax = axes[row][col]
            for tensor, bins in data[phase].items():
                if not tensor.startswith(kind) or tensor == "param: all gradients":
                    continue
                total = sum(bins.values())
                xs = sorted(bins)
                ax.step([x + 0.5 for x in xs], [bins[x] / total for x in xs], where="mid", label=tensor.split(": ", 1)[1])
            for x, label in FP16:
                ax.axvline(x, color="k", linestyle="--" if x < 0 else ":", linewidth=1)
                ax.text(x, ax.get_ylim()[1] * 0.95, " " + label, rotation=90, va="top", fontsize=7)
            ax.set_title(f"{'activation' if kind == 'act' else 'parameter'} gradients, {phase}", fontsize=9)
            ax.set_ylabel("share of nonzero values")
            ax.legend(fontsize=6, loc="upper left")
    for ax in axes[-1]:
        ax.set_xlabel("log2 |g|  (a loss scale 2^k moves every curve k to the right)")
    fig.suptitle("Where the seed's model's gradients sit against fp16's range (fp32 training, plain SGD)", fontsize=10)
    fig.tight_layout()
    fig.savefig(args[1], dpi=80)


if __name__ == "__main__":
    main(sys.argv[1:])
