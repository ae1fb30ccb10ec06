#!/usr/bin/env python3
"""Chapter 07's step-time figure: the median wall time of a training step by backend and
precision, per model size, on a log scale (the emulator is orders of magnitude slower than
the cpu: it checks the kernels a GPU would run, thread by thread).

    python3 plots/ch07_step_time.py BACKEND-PRECISION-SIZE.csv [...] OUT.png

Each log is a `halfway-train --log` CSV (the `seconds` column: wall time since the start,
after each step), named for its run, e.g. cpu-fp16-seed.csv or emu-bf16-tiny.csv. The
first step is left out (it allocates every buffer); the median of the rest is drawn.
"""
import csv
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PRECISIONS = ["fp32", "fp16", "bf16"]


def step_ms(path):
    """The median milliseconds per step after the first, and how many steps it covers."""
    with open(path, newline="") as f:
        seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    if len(seconds) < 2:
        sys.exit(f"ch07_step_time.py: expected at least 2 steps in {path}, found {len(seconds)}")
    steps = [b - a for a, b in zip(seconds, seconds[1:])]
    return 1000.0 * statistics.median(steps), len(steps)


def main(args):
    if len(args) < 2:
        sys.exit("usage: ch07_step_time.py BACKEND-PRECISION-SIZE.csv [...] OUT.png")
    runs = {}  # size -> backend -> precision -> (ms, steps)
    for path in args[:-1]:
        parts = os.path.splitext(os.path.basename(path))[0].split("-")
        if len(parts) != 3 or parts[1] not in PRECISIONS:
            sys.exit(f"ch07_step_time.py: expected a log named BACKEND-PRECISION-SIZE.csv (cpu-fp16-seed.csv), found {path}")
        backend, precision, size = parts
        runs.setdefault(size, {}).setdefault(backend, {})[precision] = step_ms(path)
    sizes = sorted(runs, key=lambda s: ["tiny", "seed", "base"].index(s) if s in ("tiny", "seed", "base") else 9)
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes) + 1, 4.2), sharey=True, squeeze=False)
    for ax, size in zip(axes[0], sizes):
        backends = sorted(runs[size])
        for j, precision in enumerate(PRECISIONS):
            xs, ys, notes = [], [], []
            for i, backend in enumerate(backends):
                if precision in runs[size][backend]:
                    ms, n = runs[size][backend][precision]
                    xs.append(i + (j - 1) * 0.27)
                    ys.append(ms)
                    notes.append(f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f}" if ms >= 10 else f"{ms:.1f}")
            bars = ax.bar(xs, ys, width=0.26, label=precision)
            for b, t in zip(bars, notes):
                ax.text(b.get_x() + b.get_width() / 2, b.get_height() * 1.1, t, ha="center", fontsize=7)
        ax.set_xticks(range(len(backends)))
        ax.set_xticklabels(backends)
        ax.set_yscale("log")
        ax.set_title(f"--size {size}", fontsize=9)
    axes[0][0].set_ylabel("ms per training step (median, log scale)")
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.suptitle("halfway-train: wall time of a training step by backend and precision (batch 32; ms unless marked s)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(args[-1], dpi=80)


if __name__ == "__main__":
    main(sys.argv[1:])
