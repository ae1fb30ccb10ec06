#!/usr/bin/env python3
"""Chapter 07's underflow figure: along a real fp16 run, the share of each activation
gradient (and of all parameter gradients together) that fp16 would lose (round to 0),
without loss scaling (left) and at the run's loss scale (right, with the share that lands
among fp16's subnormals, kept with fewer bits).

The parameter gradients' row says what storing them in fp16 (--grad-storage 16) loses at
that scale. It is no longer what a 16-bit run flushes by unscaling: the trainer's fused
step never writes the unscaled gradients back into fp16 (kernels/optim/grad_fold.hpp), so
unscaling flushes none, and the right panel is all that 16-bit storage loses. The right
panel shows it measured: the telemetry's `unscale` rows follow the stored fp16 gradients
through the fused step's read (flushed by unscaling: none) and through chapter 04's
in-place unscale_ (what the trainer flushed before issue 21).

    python3 plots/ch07_underflow.py TELEMETRY.csv OUT.png

TELEMETRY.csv is written by `halfway-train --telemetry TELEMETRY.csv` (kernels/train/
telemetry.hpp: columns step, run_scale, loss_scale, multiplier, kind, tensor, format,
values, exact_zero, underflow, subnormal, normal, overflow, nonfinite).
"""
import csv
import math
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ALL_PARAMS = "all parameter gradients"
# The row's legend: what the parameter row measures since the fused step (see above).
PARAMS_LABEL = "all parameter gradients, stored in fp16 (--grad-storage 16)"


def short(name):
    """'transformer.decoder.layers.1 input' -> 'decoder layer 1 input'."""
    return name.replace("transformer.", "").replace(".layers.", " layer ")


def read(path):
    """{(at_run_scale, tensor): {step: [values, underflow, subnormal]}} for fp16, the
    unscale rows as {tensor: {step: [values, flushed by unscaling]}}, and the run's scale
    per step."""
    series = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    unscale = defaultdict(dict)
    run_scale = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["format"] != "fp16":
                continue
            step = int(r["step"])
            run_scale[step] = float(r["run_scale"])
            if r["kind"] == "unscale":
                unscale[r["tensor"]][step] = [int(r["values"]), int(r["underflow"])]
                continue
            at_run = float(r["loss_scale"]) == float(r["run_scale"])
            name = short(r["tensor"]) if r["kind"] == "activation" else ALL_PARAMS
            cell = series[(at_run, name)][step]
            cell[0] += int(r["values"])
            cell[1] += int(r["underflow"])
            cell[2] += int(r["subnormal"])
    if not run_scale:
        sys.exit(f"ch07_underflow.py: expected fp16 rows in {path}, found none")
    if not unscale:
        sys.exit(f"ch07_underflow.py: expected the unscale rows of today's telemetry in {path}, found none")
    return series, unscale, run_scale


def scale_text(run_scale):
    """'2^16' or '2^16 -> 2^15 by step 350': the scale's changes over the run (as measured)."""
    text, last = "", None
    for step in sorted(run_scale):
        s = run_scale[step]
        if s != last:
            label = f"2^{int(math.log2(s))}" if s > 0 and math.log2(s).is_integer() else f"{s:g}"
            text += label if last is None else f" -> {label} by step {step}"
            last = s
    return text


def main(args):
    if len(args) != 2:
        sys.exit("usage: ch07_underflow.py TELEMETRY.csv OUT.png")
    series, unscale, run_scale = read(args[0])
    names = [n for (at_run, n) in series if at_run and n != ALL_PARAMS] + [ALL_PARAMS]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, name in enumerate(names):
        style = {"color": "k", "linewidth": 2.0} if name == ALL_PARAMS else {"color": colours[i % len(colours)], "linewidth": 1.1}
        for ax, at_run in ((left, False), (right, True)):
            d = series.get((at_run, name))
            if not d:
                continue
            steps = sorted(d)
            label = PARAMS_LABEL if name == ALL_PARAMS else name
            ax.plot(steps, [100.0 * d[s][1] / d[s][0] for s in steps], label=label if ax is left else None, **style)
            if at_run:
                ax.plot(steps, [100.0 * d[s][2] / d[s][0] for s in steps], linestyle=":", **style)
    left.set_title("fp16 without loss scaling (scale 1): lost to underflow", fontsize=9)
    right.set_title(f"fp16 at the run's loss scale ({scale_text(run_scale)}):\n"
                    "lost (solid), subnormal (dotted)", fontsize=9)
    for ax in (left, right):
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_ylim(0, 100)
        ax.set_xlabel("step")
        ax.grid(True, which="major", alpha=0.3)
    left.set_ylabel("share of the gradient's values (%)")
    left.legend(fontsize=7, loc="upper left")
    flushed = {}
    for tensor, d in unscale.items():
        steps = sorted(d)
        fused = tensor.startswith("fused")
        right.plot(steps, [100.0 * d[s][1] / d[s][0] for s in steps], color="tab:green" if fused else "grey",
                   linestyle="-" if fused else "--", linewidth=2.0 if fused else 1.2, marker="o" if fused else None,
                   markersize=3, label=f"stored fp16 parameter gradients flushed by unscaling:\n{tensor}")
        flushed[fused] = sum(v[1] for v in d.values())
    right.legend(fontsize=6, loc="upper left")
    right.text(0.02, 0.78, f"16-bit gradients flushed by unscaling, all {len(run_scale)} measurements:\n"
               f"fused step (fp32 registers) {flushed.get(True, 0):,}; "
               f"in-place unscale_ (before issue 21) {flushed.get(False, 0):,}",
               transform=right.transAxes, fontsize=7, va="top")
    fig.suptitle("Where fp16 would lose the gradients along an fp16 run of the seed's model "
                 "(fp32 gradients of the run's masters, a fixed batch of 32)", fontsize=9)
    fig.tight_layout()
    fig.savefig(args[1], dpi=80)


if __name__ == "__main__":
    main(sys.argv[1:])
