#!/usr/bin/env python3
"""Chapter 05's lost-update figure: one weight w = 1 stored in fp16 or bf16 receives the
same update u 10,000 times; the share of the expected change that survives, for rounding
to nearest (no master copy), stochastic rounding, and an fp32 master (always 1).

    python3 plots/ch05_lost_updates.py LOST.csv OUT.png

LOST.csv is written by `ch05_lost_updates --csv LOST.csv` (rows of study "single").
"""
import csv
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(args):
    if len(args) != 2:
        sys.exit("usage: ch05_lost_updates.py LOST.csv OUT.png")
    series = {}
    with open(args[0], newline="") as f:
        for r in csv.DictReader(f):
            if r["study"] != "single":
                continue
            series.setdefault((r["format"], r["rounding"]), []).append((float(r["x"]), float(r["value"])))
    if not series:
        sys.exit(f"ch05_lost_updates.py: expected rows of study 'single' in {args[0]}, found none")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    styles = {"nearest": "-o", "stochastic": "--s"}
    colors = {"fp16": "tab:blue", "bf16": "tab:orange"}
    for (fmt, rounding), pts in sorted(series.items()):
        pts.sort()
        ax.plot([math.log2(u) for u, _ in pts], [v for _, v in pts], styles[rounding], color=colors[fmt],
                markersize=3, label=f"{fmt}, round to {rounding}")
    ax.axhline(1.0, color="k", linewidth=1, label="fp32 master (exact)")
    for fmt, half_ulp in (("fp16", -11), ("bf16", -8)):
        ax.axvline(half_ulp, color=colors[fmt], linestyle=":", linewidth=1)
        ax.text(half_ulp, 1.35, f" half an ulp of 1 in {fmt}", rotation=90, va="top", fontsize=7)
    ax.set_ylim(-0.05, 1.45)
    ax.set_xlabel("log2 u (the update added 10,000 times to w = 1)")
    ax.set_ylabel("share of the expected change that survives")
    ax.set_title("Updates below half an ulp: lost by rounding to nearest, kept on average by stochastic rounding", fontsize=9)
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(args[1], dpi=80)


if __name__ == "__main__":
    main(sys.argv[1:])
