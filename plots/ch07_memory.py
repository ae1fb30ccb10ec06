#!/usr/bin/env python3
"""Chapter 07's memory figure: what a training step of the seed's model holds, by use, in
each precision mode, as the allocator counts it (one stacked bar per mode).

    python3 plots/ch07_memory.py MEMORY.csv OUT.png

MEMORY.csv is written by `ch07_memory --csv MEMORY.csv` (columns mode, parameters,
masters_bytes, working_bytes, gradients_bytes, optimizer_state_bytes,
activations_bytes, forward_workspace_bytes, backward_bytes, other_bytes, total_bytes).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# (column, label, colour): the model's state first, then what a step's passes hold.
PARTS = [
    ("masters_bytes", "fp32 masters", "#1f77b4"),
    ("working_bytes", "16-bit working copies", "#aec7e8"),
    ("gradients_bytes", "gradients", "#ff7f0e"),
    ("optimizer_state_bytes", "Adam m, v", "#2ca02c"),
    ("activations_bytes", "activations (forward)", "#d62728"),
    ("forward_workspace_bytes", "fp32 GEMM workspace (forward)", "#ff9896"),
    ("backward_bytes", "backward buffers", "#9467bd"),
    ("other_bytes", "other", "#7f7f7f"),
]
MIB = 1024.0 * 1024.0


def main(args):
    if len(args) != 2:
        sys.exit("usage: ch07_memory.py MEMORY.csv OUT.png")
    with open(args[0], newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"ch07_memory.py: expected one row per mode in {args[0]}, found none")
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(rows) + 2.6))
    y = list(range(len(rows)))[::-1]  # the first mode on top
    seen = set()
    for yi, r in zip(y, rows):
        left = 0.0
        for col, label, colour in PARTS:
            width = int(r[col]) / MIB
            if width <= 0:
                continue
            ax.barh(yi, width, left=left, color=colour, edgecolor=colour,
                    label=None if label in seen else label)
            seen.add(label)
            left += width
        total, n = int(r["total_bytes"]), int(r["parameters"])
        ax.text(left + 0.5, yi, f"{total / MIB:.1f} MiB, {total / n:.1f} B/param", va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels([r["mode"] for r in rows], fontsize=9)
    ax.set_xlabel("MiB held after two training steps (the allocator's count)")
    ax.set_xlim(0, max(int(r["total_bytes"]) for r in rows) / MIB * 1.35)
    ax.set_title(f"Memory of a training step by use: the seed's model ({int(rows[0]['parameters']) / 1e6:.2f}M parameters), "
                 "batch 32", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.45, -0.16), ncol=4, frameon=False)
    fig.tight_layout()
    fig.savefig(args[1], dpi=80)


if __name__ == "__main__":
    main(sys.argv[1:])
