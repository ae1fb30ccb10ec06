#!/usr/bin/env python3
"""Chapter 07's training figure: the default runs in fp32, fp16 and bf16 side by side,
four panels over the steps: the loss (smoothed; raw in pale), the loss scale of the runs
that scale (skipped steps marked and numbered), the learning rate, and the global gradient
norm before clipping (smoothed; raw in pale).

    python3 plots/ch07_training.py RUN.csv [RUN.csv ...] OUT.png

Each RUN.csv is a `halfway-train --log RUN.csv` log, labelled by its file name (fp16-s1.csv:
"fp16-s1"). `./course run` draws its one run with it (build/default/plots/train.png).
"""
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from smoothing import smooth  # noqa: E402 (plots/smoothing.py, next to this script)

COLOURS = {"fp32": "#1f77b4", "fp16": "#d62728", "bf16": "#2ca02c"}


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
        sys.exit(f"ch07_training.py: expected step rows in {path}, found none")
    return run


def colour(name, i):
    for key, c in COLOURS.items():
        if name.startswith(key):
            return c
    return plt.rcParams["axes.prop_cycle"].by_key()["color"][i % 10]


def main(args):
    if len(args) < 2:
        sys.exit("usage: ch07_training.py RUN.csv [RUN.csv ...] OUT.png")
    runs = {os.path.splitext(os.path.basename(p))[0]: read_run(p) for p in args[:-1]}
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    (loss_ax, scale_ax), (lr_ax, norm_ax) = axes
    same_lr = len({tuple(r["lr"]) for r in runs.values()}) == 1
    scaled, skips, steps_scaled = False, 0, 0
    for i, (name, r) in enumerate(runs.items()):
        c = colour(name, i)
        loss_ax.plot(r["step"], r["loss"], color=c, alpha=0.18, linewidth=0.6)
        loss_ax.plot(r["step"], smooth(r["loss"]), color=c, linewidth=1.3, label=f"{name} (final {smooth(r['loss'])[-1]:.3f})")
        if not same_lr or i == 0:
            lr_ax.plot(r["step"], r["lr"], color="k" if same_lr else c, linewidth=1.2,
                       label=", ".join(runs) + " (one schedule)" if same_lr else name)
        finite = [(s, n) for s, n in zip(r["step"], r["norm"]) if math.isfinite(n)]
        steps, norms = [s for s, _ in finite], [n for _, n in finite]
        norm_ax.plot(steps, norms, color=c, alpha=0.18, linewidth=0.6)
        norm_ax.plot(steps, smooth(norms), color=c, linewidth=1.3, label=name)
        if any(s != 1.0 for s in r["scale"]):
            scaled = True
            scale_ax.plot(r["step"], r["scale"], color=c, linewidth=1.3, label=name)
            skipped = [(s, v) for s, v, k in zip(r["step"], r["scale"], r["skipped"]) if k]
            skips, steps_scaled = skips + len(skipped), max(steps_scaled, len(r["step"]))
            if skipped:
                scale_ax.scatter([s for s, _ in skipped], [v for _, v in skipped], marker="x", color="k", zorder=3,
                                 label=f"{name}: {len(skipped)} skipped step{'s' if len(skipped) != 1 else ''}")
                for s, v in skipped[:8]:
                    scale_ax.annotate(f"step {s}", (s, v), textcoords="offset points", xytext=(-40, -14), fontsize=7)
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("training loss (smoothed)")
    loss_ax.set_title("loss", fontsize=9)
    scale_ax.set_yscale("log", base=2)
    if scaled:  # room above and below the scale's one or two levels
        lo, hi = scale_ax.get_ylim()
        scale_ax.set_ylim(lo / 4, hi * 4)
    scale_ax.set_ylabel("loss scale")
    if not scaled:
        scale_ax.set_title("no run used a loss scale", fontsize=9)
    elif skips:
        scale_ax.set_title("dynamic loss scale (x: a skipped step, its scale halved)", fontsize=9)
    else:
        scale_ax.set_title(f"dynamic loss scale: no step skipped in {steps_scaled}\n"
                           "(growth waits for 2000 clean steps: chapter 04)", fontsize=8)
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_title("Noam schedule", fontsize=9)
    norm_ax.set_yscale("log")
    norm_ax.axhline(1.0, color="k", linestyle="--", linewidth=0.8, label="clipping threshold 1")
    norm_ax.set_ylabel("gradient norm before clipping (smoothed)")
    norm_ax.set_title("global gradient norm", fontsize=9)
    for ax in axes.flat:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel("step")
    fig.suptitle("halfway-train, default settings: the seed's Transformer on the number-words task", fontsize=10)
    fig.tight_layout()
    fig.savefig(args[-1], dpi=80)


if __name__ == "__main__":
    main(sys.argv[1:])
