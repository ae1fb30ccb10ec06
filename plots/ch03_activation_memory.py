#!/usr/bin/env python3
"""Chapter 03: activation memory saved for backward per layer, fp32 vs mixed.

    ch03_activation_memory.py ch03_memory.csv out.png

Reads the CSV of ch03_memory (layer, fp32_bytes, fp16_bytes, bf16_bytes) and draws one
pair of bars per layer.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        print("usage: ch03_activation_memory.py ch03_memory.csv out.png", file=sys.stderr)
        return 2
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f))
    layers = [r["layer"] for r in rows]
    f32 = [int(r["fp32_bytes"]) / 1024 for r in rows]
    f16 = [int(r["fp16_bytes"]) / 1024 for r in rows]
    x = range(len(layers))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.bar([i - 0.2 for i in x], f32, width=0.4, label=f"fp32 mode (total {sum(f32) / 1024:.1f} MiB)")
    ax.bar([i + 0.2 for i in x], f16, width=0.4, label=f"mixed, fp16/bf16 storage (total {sum(f16) / 1024:.1f} MiB)")
    ax.set_xticks(list(x))
    ax.set_xticklabels(layers, rotation=30, ha="right")
    ax.set_ylabel("activations saved for backward (KiB)")
    ax.set_title("Activation memory per layer: batch 32, d_model 128, d_ff 2048")
    ax.legend()
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
