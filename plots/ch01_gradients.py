#!/usr/bin/env python3
"""Chapter 01's gradient figure: where the values of a gradient tensor fall against fp16's
range, without and with a loss scale (chapter 04 picks this up).

    python3 plots/ch01_gradients.py GRADIENTS.csv OUT.png

GRADIENTS.csv is written by `ch01_fp16 --gradients GRADIENTS.csv [--scale S]` (columns
log2_lo, count, count_scaled, scale): the histogram of log2|g| in unit bins of a synthetic
tensor (log2|g| ~ Normal(-22, 5), deterministic), and of log2|g * S|. The synthetic shape
follows published gradient histograms (Micikevicius et al. 2018, Fig. 3); its centre and
spread are illustrative.
"""
import csv
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FP16_MIN_SUBNORMAL = -24  # log2 of 2^-24
FP16_MIN_NORMAL = -14
FP16_MAX = math.log2(65504)


def main(args):
    if len(args) != 2:
        sys.exit("usage: ch01_gradients.py GRADIENTS.csv OUT.png")
    lo, count, scaled, scale = [], [], [], None
    with open(args[0], newline="") as f:
        for r in csv.DictReader(f):
            lo.append(int(r["log2_lo"]))
            count.append(int(r["count"]))
            scaled.append(int(r["count_scaled"]))
            scale = float(r["scale"])
    if not lo:
        sys.exit(f"ch01_gradients.py: expected rows in {args[0]}, found none")
    total = sum(count)

    fig, ax = plt.subplots(figsize=(10, 5))
    ax.axvspan(min(lo), FP16_MIN_SUBNORMAL - 1, color="0.85")
    ax.axvspan(FP16_MIN_SUBNORMAL - 1, FP16_MIN_NORMAL, color="tab:orange", alpha=0.15)
    ax.axvspan(FP16_MIN_NORMAL, FP16_MAX, color="tab:green", alpha=0.12)
    ax.axvspan(FP16_MAX, max(lo) + 1, color="tab:red", alpha=0.12)
    ymax = max(max(count), max(scaled)) / total * 100 * 1.15
    for x0, x1, text in ((min(lo), FP16_MIN_SUBNORMAL - 1, "flushed to 0\n(|g| <= 2^-25)"),
                         (FP16_MIN_SUBNORMAL - 1, FP16_MIN_NORMAL, "fp16 subnormal\n(fewer bits)"),
                         (FP16_MIN_NORMAL, FP16_MAX, "fp16 normal"),
                         (FP16_MAX, max(lo) + 1, "inf")):
        ax.text((x0 + x1) / 2, ymax * 0.97, text, ha="center", va="top", fontsize=8)
    pct = [c / total * 100 for c in count]
    ax.bar(lo, pct, width=1.0, align="edge", color="tab:blue", alpha=0.75,
           label="gradients g (log2|g| in unit bins)")
    if scale and scale != 1:
        pct_s = [c / total * 100 for c in scaled]
        ax.step(lo + [lo[-1] + 1], pct_s + [pct_s[-1]], where="post", color="black", lw=1.2,
                label=f"g x {scale:g} (loss scale 2^{math.log2(scale):g})")
    ax.set_xlim(min(lo), max(lo) + 1)
    ax.set_ylim(0, ymax)
    ax.set_xlabel("log2 |g|")
    ax.set_ylabel("% of values")
    ax.set_title("A synthetic gradient tensor against fp16's range: scaling shifts the "
                 "histogram right, out of the flush zone", fontsize=10)
    ax.legend(loc="center left")
    fig.tight_layout()
    fig.savefig(args[1], dpi=130)


if __name__ == "__main__":
    main(sys.argv[1:])
