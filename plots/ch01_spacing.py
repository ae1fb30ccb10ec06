#!/usr/bin/env python3
"""Chapter 01's spacing figure: how far apart neighbouring values are, relative to the
value, in fp32, fp16 and bf16.

    python3 plots/ch01_spacing.py SPACING.csv OUT.png

SPACING.csv is written by `ch01_fp16 --table SPACING.csv` (columns format, x, ulp,
relative_spacing, region). Both axes are logarithmic. Top: every format over its whole
range, subnormal ranges shaded. Bottom: zoomed on fp16's range, with fp16's smallest
subnormal, smallest normal and largest finite value marked.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"fp32": "tab:blue", "fp16": "tab:red", "bf16": "tab:green"}
# (exponent bits, mantissa bits): the marks below come from the formats, not the samples.
FORMATS = {"fp32": (8, 23), "fp16": (5, 10), "bf16": (8, 7)}


def limits(name):
    e, m = FORMATS[name]
    bias = 2 ** (e - 1) - 1
    return {"min subnormal": 2.0 ** (1 - bias - m), "min normal": 2.0 ** (1 - bias),
            "max": (2 - 2.0 ** -m) * 2.0 ** bias}


def draw(ax, rows, shade):
    for name, pts in rows.items():
        color = COLORS.get(name)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, lw=1.0,
                label=f"{name} (1/{2 ** FORMATS[name][1]} to 1/{2 ** (FORMATS[name][1] + 1)}"
                      " in the normal range)" if name in FORMATS else name)
        if shade and name in FORMATS:
            lim = limits(name)
            ax.axvspan(lim["min subnormal"], lim["min normal"], color=color, alpha=0.10)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_ylabel("ulp(x) / |x|")
    ax.grid(True, which="major", alpha=0.3)


def main(args):
    if len(args) != 2:
        sys.exit("usage: ch01_spacing.py SPACING.csv OUT.png")
    rows = {}
    with open(args[0], newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["format"], []).append((float(r["x"]), float(r["relative_spacing"])))
    if not rows:
        sys.exit(f"ch01_spacing.py: expected rows in {args[0]}, found none")

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 9))
    draw(top, rows, shade=True)
    top.set_title("Relative spacing ulp(x)/|x|: flat (a sawtooth) over the normal range, "
                  "rising to 1 through the subnormals (shaded)", fontsize=10)
    top.legend(loc="upper right", fontsize=8)

    draw(bottom, rows, shade=False)
    bottom.set_xlim(2.0 ** -27, 2.0 ** 18)
    if "fp16" in rows:
        lim = limits("fp16")
        bottom.axvspan(lim["min subnormal"], lim["min normal"], color=COLORS["fp16"], alpha=0.10)
        for what, x in lim.items():
            bottom.axvline(x, color=COLORS["fp16"], lw=0.8, ls=":")
            bottom.text(x, 2.0 ** -1.5, f" fp16 {what}\n {x:.6g}", color=COLORS["fp16"],
                        fontsize=8, va="top")
    bottom.set_title("Zoomed on fp16's range: below 2^-14 fp16 loses relative precision, "
                     "above 65504 it has none", fontsize=10)
    bottom.set_xlabel("|x|")
    fig.tight_layout()
    fig.savefig(args[1], dpi=100)   # under 150 KB: the figure is committed (chapters/01_fp16/figures/)


if __name__ == "__main__":
    main(sys.argv[1:])
