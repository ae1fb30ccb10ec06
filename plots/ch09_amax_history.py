#!/usr/bin/env python3
"""Chapter 09's amax figure: one fp8 tensor's amax step by step along a run, with the scale
delayed scaling chose for each step.

    python3 plots/ch09_amax_history.py FP8_TELEMETRY.csv OUT.png [LINEAR ROLE]

FP8_TELEMETRY.csv is written by `halfway-train --precision fp8 --fp8-telemetry FILE.csv
--telemetry-every N` (kernels/train/fp8_telemetry.hpp): every N steps, each tensor's scale
and its last H amaxes (oldest first). With N <= H the histories cover every step. LINEAR and
ROLE pick the tensor (default: the first decoder layer's linear1 and its incoming gradient
dy, e5m2). Top: the amax of each step and fp8_max / scale, the largest magnitude the scale
in use at that step could hold without saturating (the max of the H amaxes before it).
Bottom: the scale itself.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MAX = {"e4m3": 448.0, "e5m2": 57344.0}


def main(args):
    if len(args) not in (2, 4):
        sys.exit("usage: ch09_amax_history.py FP8_TELEMETRY.csv OUT.png [LINEAR ROLE]")
    linear = args[2] if len(args) == 4 else "transformer.decoder.layers.0.linear1.weight"
    role = args[3] if len(args) == 4 else "dy"
    amax, scale_after, fmt = {}, {}, None
    with open(args[0], newline="") as f:
        for r in csv.DictReader(f):
            if r["linear"] != linear or r["role"] != role:
                continue
            step, hist = int(r["step"]), [float(x) for x in r["history"].split()]
            fmt = r["format"]
            for i, a in enumerate(hist):  # hist[-1] is this step's amax
                s = step - (len(hist) - 1 - i)
                if s >= 1:
                    amax[s] = a
            scale_after[step] = float(r["scale"])
    if not amax:
        sys.exit(f"ch09_amax_history.py: no rows for {linear} {role} in {args[0]}")
    steps = sorted(amax)
    # The scale used at step s is the one chosen after step s - 1 (1 before the first update).
    used = sorted(scale_after)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top.semilogy(steps, [amax[s] for s in steps], lw=0.8, color="tab:blue", label="amax of the step")
    top.semilogy([s + 1 for s in used], [MAX[fmt] / scale_after[s] for s in used], lw=1.2, color="tab:red",
                 drawstyle="steps-post", label=f"{fmt} max / scale used (the largest value it holds)")
    top.set_ylabel("magnitude")
    top.set_title(f"{linear} {role} ({fmt}): delayed scaling follows the amax history")
    top.legend()
    bottom.semilogy([s + 1 for s in used], [scale_after[s] for s in used], color="tab:red", drawstyle="steps-post")
    bottom.set_ylabel("scale")
    bottom.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(args[1], dpi=90)


if __name__ == "__main__":
    main(sys.argv[1:])
