#!/usr/bin/env python3
"""Chapter 04's training figure: the loss of the seed's model trained with plain SGD in
fp16 with and without dynamic loss scaling, in bf16 and in fp32 (top), and the dynamic
scale over the steps with the skipped steps marked (bottom).

    python3 plots/ch04_scaling.py SCALING.csv OUT.png

SCALING.csv is written by `ch04_scaling_demo --csv SCALING.csv` (columns run, step, loss,
scale, skipped, loss_weight).
"""
import csv
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from smoothing import smooth  # noqa: E402 (plots/smoothing.py, next to this script)


def main(args):
    if len(args) != 2:
        sys.exit("usage: ch04_scaling.py SCALING.csv OUT.png")
    runs, weight = {}, 1.0
    with open(args[0], newline="") as f:
        for r in csv.DictReader(f):
            weight = float(r.get("loss_weight", 1.0))
            d = runs.setdefault(r["run"], {"step": [], "loss": [], "scale": [], "skipped": []})
            d["step"].append(int(r["step"]))
            d["loss"].append(float(r["loss"]))
            d["scale"].append(float(r["scale"]))
            d["skipped"].append(r["skipped"] == "1")
    if not runs:
        sys.exit(f"ch04_scaling.py: expected rows in {args[0]}, found none")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    for name, d in runs.items():
        top.plot(d["step"], smooth(d["loss"]), label=name, linewidth=1.2)
    top.set_yscale("log")
    top.set_ylabel("training loss (smoothed)")
    top.legend(fontsize=8)
    what = "" if weight == 1.0 else f", loss x 2^{math.log2(weight):.0f} (a larger batch's gradients)"
    top.set_title(f"Plain SGD on the seed's model{what}: fp16 with and without loss scaling, bf16, fp32", fontsize=9)
    for name, d in runs.items():
        if name.startswith("fp16, dynamic"):
            bottom.step(d["step"], d["scale"], where="post", label="loss scale")
            sk = [(s, c) for s, c, k in zip(d["step"], d["scale"], d["skipped"]) if k]
            if sk:
                bottom.scatter([s for s, _ in sk], [c for _, c in sk], color="red", s=12, zorder=3,
                               label=f"skipped step ({len(sk)})")
    bottom.set_yscale("log", base=2)
    bottom.set_ylabel("dynamic loss scale (fp16)")
    bottom.set_xlabel("step")
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args[1], dpi=80)


if __name__ == "__main__":
    main(sys.argv[1:])
