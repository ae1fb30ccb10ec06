#!/usr/bin/env python3
"""Chapter 06's training figure: the global gradient norm before clipping (top, with the
clipping threshold) and the loss (bottom) of the seed's model over Adam steps, with and
without Noam warmup and clipping.

    python3 plots/ch06_grad_norm.py NORM.csv OUT.png

NORM.csv is written by `ch06_grad_norm --csv NORM.csv` (columns run, step, loss, lr,
grad_norm, max_norm).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from smoothing import smooth  # noqa: E402 (plots/smoothing.py, next to this script)


def main(args):
    if len(args) != 2:
        sys.exit("usage: ch06_grad_norm.py NORM.csv OUT.png")
    runs, max_norm = {}, None
    with open(args[0], newline="") as f:
        for r in csv.DictReader(f):
            d = runs.setdefault(r["run"], {"step": [], "loss": [], "norm": []})
            d["step"].append(int(r["step"]))
            d["loss"].append(float(r["loss"]))
            d["norm"].append(float(r["grad_norm"]))
            if float(r["max_norm"]) > 0:
                max_norm = float(r["max_norm"])
    if not runs:
        sys.exit(f"ch06_grad_norm.py: expected rows in {args[0]}, found none")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    for name, d in runs.items():
        top.plot(d["step"], d["norm"], label=name, linewidth=0.9)
        bottom.plot(d["step"], smooth(d["loss"]), label=name, linewidth=1.2)
    if max_norm:
        top.axhline(max_norm, color="k", linestyle="--", linewidth=1, label=f"clipping threshold {max_norm:g}")
    top.set_yscale("log")
    top.set_ylabel("gradient norm before clipping")
    top.legend(fontsize=7)
    top.set_title("The seed's model, Adam, fp32: warmup and clipping", fontsize=9)
    bottom.set_yscale("log")
    bottom.set_ylabel("training loss (smoothed)")
    bottom.set_xlabel("step")
    bottom.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args[1], dpi=80)


if __name__ == "__main__":
    main(sys.argv[1:])
