#!/usr/bin/env python3
"""Chapter 09's number-line figure: where e4m3, e5m2, fp16 and bf16 have values, and how
far apart they are.

    python3 plots/ch09_number_lines.py NUMBERLINE.csv OUT.png

NUMBERLINE.csv is written by `ch09_fp8 --table NUMBERLINE.csv` (columns format, value,
spacing: every positive finite value with the gap to the next one). Top: the relative
spacing gap/value against the value, both axes logarithmic, so a format's range is the
width of its curve and its precision the height. Bottom: the values of e4m3 and e5m2
between 1 and 16 as ticks on a line, one row per format.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ORDER = ["bf16", "fp16", "e5m2", "e4m3"]
COLORS = {"e4m3": "tab:purple", "e5m2": "tab:orange", "fp16": "tab:red", "bf16": "tab:green"}


def main(args):
    if len(args) != 2:
        sys.exit("usage: ch09_number_lines.py NUMBERLINE.csv OUT.png")
    rows = {}
    with open(args[0], newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["format"], []).append((float(r["value"]), float(r["spacing"])))
    missing = [name for name in ORDER if name not in rows]
    if missing:
        sys.exit(f"ch09_number_lines.py: expected rows for {', '.join(ORDER)} in {args[0]}, missing {', '.join(missing)}")

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), gridspec_kw={"height_ratios": [3, 1.3]})
    for name in ORDER:
        pts = rows[name]
        lo, hi = pts[0][0], pts[-1][0] + pts[-1][1]
        top.plot([v for v, _ in pts], [s / v for v, s in pts], color=COLORS[name], lw=1.2,
                 label=f"{name}: {len(pts) + 1} positive finite values, {lo:.3g} to {hi:.4g}")
    top.set_xscale("log", base=2)
    top.set_yscale("log", base=2)
    top.set_xlabel("value x")
    top.set_ylabel("gap to the next value / x")
    top.grid(True, which="major", alpha=0.3)
    top.legend(fontsize=8, loc="upper right")
    top.set_title("Relative spacing: fp8 trades 5 to 8 bits of precision and most of the range for 8 bits of storage",
                  fontsize=10)

    for row, name in enumerate(["e4m3", "e5m2"]):
        values = [v for v, _ in rows[name] if 1 <= v <= 16]
        bottom.vlines(values, row - 0.3, row + 0.3, color=COLORS[name], lw=1.5)
    bottom.set_yticks([0, 1], ["e4m3", "e5m2"])
    bottom.set_xlim(0.8, 16.5)
    bottom.set_xscale("log", base=2)
    bottom.set_xlabel("value (every e4m3 and e5m2 value from 1 to 16: 8 and 4 per octave)")
    bottom.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args[1], dpi=110)
    print(f"ch09_number_lines.py: wrote {args[1]}")


if __name__ == "__main__":
    main(sys.argv[1:])
