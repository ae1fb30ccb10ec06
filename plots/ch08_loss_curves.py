#!/usr/bin/env python3
"""Chapter 08's loss curves: halfway-train on one process and on N ranks (rank 0's log) on
top of each other, the loss per logged step (pale) and its exponential average.

    python3 plots/ch08_loss_curves.py np1.csv np2.csv [np3_zero1.csv ...] OUT.png

Each CSV is a `halfway-train --log RUN.csv` log (under mpirun rank 0 writes it), labelled by
its file name. The commands are in chapters/08_data_parallel/README.md.
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from smoothing import smooth  # noqa: E402 (plots/smoothing.py, next to this script)


def read_run(path):
    steps, loss = [], []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            steps.append(int(r["step"]))
            loss.append(float(r["loss"]))
    if not steps:
        sys.exit(f"ch08_loss_curves.py: expected step rows in {path}, found none")
    return steps, loss


def main(args):
    if len(args) < 3:
        sys.exit("usage: ch08_loss_curves.py RUN.csv RUN.csv [RUN.csv ...] OUT.png")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, path in enumerate(args[:-1]):
        name = os.path.splitext(os.path.basename(path))[0]
        steps, loss = read_run(path)
        c = colours[i % len(colours)]
        ax.plot(steps, loss, color=c, alpha=0.2, linewidth=0.6)
        s = smooth(loss)
        ax.plot(steps, s, color=c, linewidth=1.4, label=f"{name} (final average {s[-1]:.4f})")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (rank 0's log)")
    ax.set_title("halfway-train, fp16 defaults: one process against data-parallel ranks")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args[-1], dpi=90)


if __name__ == "__main__":
    main(sys.argv[1:])
