#!/usr/bin/env python3
"""Chapter 09's saturation figure: per Linear layer, the fraction of each fp8 tensor's values
that saturated (clamped to the format's max) and that underflowed (a nonzero value cast to
0), over a whole run.

    python3 plots/ch09_saturation.py FP8_TELEMETRY.csv OUT.png

FP8_TELEMETRY.csv is written by `halfway-train --precision fp8 --fp8-telemetry FILE.csv`
(kernels/train/fp8_telemetry.hpp); the counts are cumulative, so the last step's rows hold
the run's totals. One bar group per Linear, one bar per tensor (x, w: e4m3; dy: the gradient
format), log scale; a fraction of 0 is drawn at the bottom edge.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROLES = ["x", "w", "dy"]
COLORS = {"x": "tab:blue", "w": "tab:green", "dy": "tab:orange"}


def short(name):
    name = name.replace("transformer.", "").replace(".weight", "").replace("layers.", "")
    return name.replace("self_attn", "sa").replace("multihead_attn", "ca").replace("in_proj", "in")


def main(args):
    if len(args) != 2:
        sys.exit("usage: ch09_saturation.py FP8_TELEMETRY.csv OUT.png")
    last, rows = -1, {}
    with open(args[0], newline="") as f:
        for r in csv.DictReader(f):
            step = int(r["step"])
            if step > last:
                last, rows = step, {}
            rows[(r["linear"], r["role"])] = r
    if not rows:
        sys.exit(f"ch09_saturation.py: no rows in {args[0]}")
    linears = sorted({k[0] for k in rows})
    floor = 1e-9
    fig, axes = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
    for ax, column, title in ((axes[0], "saturated", "saturated"), (axes[1], "underflowed", "underflowed to 0")):
        for j, role in enumerate(ROLES):
            xs, ys = [], []
            for i, lin in enumerate(linears):
                r = rows.get((lin, role))
                if r is None:
                    continue
                xs.append(i + (j - 1) * 0.27)
                ys.append(max(int(r[column]) / max(int(r["cast"]), 1), floor))
            fmt = next((rows[(lin, role)]["format"] for lin in linears if (lin, role) in rows), "")
            ax.bar(xs, ys, width=0.27, color=COLORS[role], label=f"{role} ({fmt})")
        ax.set_yscale("log")
        ax.set_ylim(floor, 1)
        ax.set_ylabel(f"fraction {title}")
        ax.legend(loc="upper right")
    axes[0].set_title(f"fp8 casts per Linear over steps 1-{last} (cumulative counts)")
    axes[1].set_xticks(range(len(linears)))
    axes[1].set_xticklabels([short(n) for n in linears], rotation=60, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(args[1], dpi=80)


if __name__ == "__main__":
    main(sys.argv[1:])
