#!/usr/bin/env python3
"""Chapter 07's training figure: one or more halfway-train runs, four panels over the
steps: the loss (smoothed), the learning rate, the loss scale (skipped steps marked) and
the global gradient norm before clipping.

    python3 plots/ch07_run.py RUN.csv [RUN.csv ...] OUT.png

Each RUN.csv is a `halfway-train --log RUN.csv` log (columns step, loss, lr, scale,
grad_norm, skipped, ...); a run's label is its file name without `.csv`.
"""
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from smoothing import smooth  # noqa: E402 (plots/smoothing.py, next to this script)


def read_run(path):
    run = {"step": [], "loss": [], "lr": [], "scale": [], "norm": [], "skipped": []}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            run["step"].append(int(r["step"]))
            run["loss"].append(float(r["loss"]))
            run["lr"].append(float(r["lr"]))
            run["scale"].append(float(r["scale"]))
            run["norm"].append(float(r["grad_norm"]))
            run["skipped"].append(r["skipped"].strip().lower() in ("1", "true"))
    if not run["step"]:
        sys.exit(f"ch07_run.py: expected step rows in {path}, found none")
    return run


def main(args):
    if len(args) < 2:
        sys.exit("usage: ch07_run.py RUN.csv [RUN.csv ...] OUT.png")
    runs = {os.path.splitext(os.path.basename(p))[0]: read_run(p) for p in args[:-1]}
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True)
    (loss_ax, lr_ax), (scale_ax, norm_ax) = axes
    for name, r in runs.items():
        loss_ax.plot(r["step"], smooth(r["loss"]), label=name, linewidth=1.1)
        lr_ax.plot(r["step"], r["lr"], label=name, linewidth=1.1)
        scale_ax.plot(r["step"], r["scale"], label=name, linewidth=1.1)
        skipped = [(s, c) for s, c, k in zip(r["step"], r["scale"], r["skipped"]) if k]
        if skipped:
            scale_ax.scatter([s for s, _ in skipped], [c for _, c in skipped], marker="x", color="red", zorder=3,
                             label=f"{name}: {len(skipped)} skipped step{'s' if len(skipped) != 1 else ''}")
        finite = [(s, n) for s, n in zip(r["step"], r["norm"]) if math.isfinite(n)]
        norm_ax.plot([s for s, _ in finite], [n for _, n in finite], label=name, linewidth=0.7)
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("training loss (smoothed)")
    lr_ax.set_ylabel("learning rate (Noam)")
    scale_ax.set_yscale("log", base=2)
    scale_ax.set_ylabel("loss scale (x: skipped step)")
    norm_ax.set_yscale("log")
    norm_ax.axhline(1.0, color="k", linestyle="--", linewidth=0.8, label="clipping threshold 1")
    norm_ax.set_ylabel("gradient norm before clipping")
    for ax in axes.flat:
        ax.legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel("step")
    fig.suptitle("halfway-train: the seed's Transformer on the number-words task", fontsize=10)
    fig.tight_layout()
    fig.savefig(args[-1], dpi=80)


if __name__ == "__main__":
    main(sys.argv[1:])
