#!/usr/bin/env python3
"""Chapter 07's ablation figure: for each ablation (one setting changed from the defaults),
the held-out numbers each seed got wrong, and the loss curves of the first seed.

    python3 plots/ch07_ablations.py RUN-sS.out [...] OUT.png

Each RUN-sS.out is the printed output of one `halfway-train ... --log RUN-sS.csv` run
(its "held-out: exact match" line), with the log next to it. RUN names the ablation
(fp16-noclip, bf16-grad16, ...; LABELS below), S the seed. The left panel puts each seed's
wrong answers (of 200) on a symmetric log axis (seeds 1, 2, 3 a little apart), so that 1 or 2 wrong can be told apart
from 0 and from 190; the grey band is the range of the fp16 defaults' seeds. The right
panel draws the smoothed loss of seed 1 of the rows that change the recipe, against the
fp16 defaults.
"""
import csv
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from smoothing import smooth  # noqa: E402 (plots/smoothing.py, next to this script)

# Rows top to bottom: the three precisions' defaults, then the precision ablations, then
# the recipe. A run name not listed is drawn under its own name, last.
LABELS = {
    "fp32-defaults": "fp32",
    "fp16-defaults": "fp16 (default)",
    "bf16-defaults": "bf16",
    "fp16-noscale": "fp16, no loss scaling",
    "fp16-nomaster": "fp16, no masters",
    "fp16-sr": "fp16, stochastic rounding",
    "bf16-nomaster": "bf16, no masters",
    "bf16-sr": "bf16, stochastic rounding",
    "fp16-grad16": "fp16, 16-bit gradients",
    "bf16-grad16": "bf16, 16-bit gradients",
    "fp16-accum4x8": "fp16, accumulation 4 x 8",
    "fp16-noclip": "fp16, no clipping",
    "fp16-seedwarmup": "fp16, seed's warmup 4000",
    "fp16-nowarmup": "fp16, no warmup",
    "fp16-seedinit": "fp16, seed's N(0,1) embedding",
}
RECIPE = ["fp16-noclip", "fp16-seedwarmup", "fp16-nowarmup", "fp16-seedinit", "fp16-accum4x8"]
HELD_OUT = re.compile(r"^held-out: exact match [\d.]+% \((\d+)/(\d+)\)", re.M)
NAME = re.compile(r"^(.*)-s(\d+)$")


def wrong_answers(path):
    with open(path) as f:
        m = HELD_OUT.search(f.read())
    if not m:
        sys.exit(f"ch07_ablations.py: expected a 'held-out: exact match' line in {path}, found none")
    return int(m.group(2)) - int(m.group(1))


def losses(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"ch07_ablations.py: expected step rows in {path}, found none")
    return [int(r["step"]) for r in rows], [float(r["loss"]) for r in rows]


def main(args):
    if len(args) < 2:
        sys.exit("usage: ch07_ablations.py RUN-sS.out [...] OUT.png")
    runs = {}  # name -> seed -> .out path
    for path in args[:-1]:
        m = NAME.match(os.path.splitext(os.path.basename(path))[0])
        if not m:
            sys.exit(f"ch07_ablations.py: expected a file named RUN-sSEED.out, found {path}")
        runs.setdefault(m.group(1), {})[int(m.group(2))] = path
    order = [n for n in LABELS if n in runs] + sorted(n for n in runs if n not in LABELS)

    fig, (ax, loss_ax) = plt.subplots(1, 2, figsize=(13, 6), gridspec_kw={"width_ratios": [1.1, 1]})
    if "fp16-defaults" in runs:
        band = [wrong_answers(p) for p in runs["fp16-defaults"].values()]
        ax.axvspan(min(band) - 0.1, max(band) + 0.1, color="0.88", zorder=0,
                   label=f"fp16 defaults' seeds: {min(band)}-{max(band)} wrong")
    markers = {1: "o", 2: "s", 3: "^"}
    for y, name in enumerate(order):
        for seed, path in sorted(runs[name].items()):
            ax.scatter(wrong_answers(path), y + 0.18 * (seed - 2), marker=markers.get(seed, "x"), s=36, color="#d62728"
                       if name.startswith("fp16") else "#2ca02c" if name.startswith("bf16") else "#1f77b4",
                       alpha=0.8, label=f"seed {seed}" if y == 0 else None)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([LABELS.get(n, n) for n in order])
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(-0.3, 260)
    ax.set_xticks([0, 1, 2, 5, 10, 20, 50, 100, 200])
    ax.set_xticklabels(["0", "1", "2", "5", "10", "20", "50", "100", "200"])
    ax.set_xlabel("held-out numbers wrong, of 200 (symmetric log scale)")
    ax.set_title("held-out exact match by ablation and seed")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)

    for name in ["fp16-defaults"] + RECIPE:
        path = runs.get(name, {}).get(1)
        if not path:
            continue
        steps, loss = losses(os.path.splitext(path)[0] + ".csv")
        loss_ax.plot(steps, smooth(loss), linewidth=2.0 if name == "fp16-defaults" else 1.2,
                     color="black" if name == "fp16-defaults" else None, label=LABELS.get(name, name))
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("training loss (smoothed)")
    loss_ax.set_title("the recipe's ablations, seed 1")
    loss_ax.grid(alpha=0.3)
    loss_ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args[-1], dpi=80)


if __name__ == "__main__":
    main(sys.argv[1:])
