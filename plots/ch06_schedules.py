#!/usr/bin/env python3
"""Chapter 06's schedules figure: Noam with warmup 400 and 4000, linear warmup then cosine,
linear warmup then inverse square root.

    python3 plots/ch06_schedules.py SCHEDULES.csv OUT.png

SCHEDULES.csv is written by `ch06_schedules --csv SCHEDULES.csv` (columns schedule,
warmup, step, lr). Left: the first 320 steps, the length of the seed's run, where Noam with
warmup 4000 is still a straight line at a few percent of its peak. Right: the whole 4000
steps. Each schedule's peak is marked with a dot.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"noam_w400": ("tab:blue", "-", 1.5), "noam_w4000": ("tab:red", "-", 1.5),
         "cosine_w400": ("tab:green", "--", 1.5), "inv_sqrt_w400": ("tab:purple", ":", 2.5)}
# Noam is linear warmup then inverse square root with peak (d_model * warmup)^-0.5: with
# the same peak and warmup the two curves coincide, which the legend says.
LABEL = {"inv_sqrt_w400": "inv_sqrt_w400 (the same curve as noam_w400)"}
SEED_RUN = 320


def main(args):
    if len(args) != 2:
        sys.exit("usage: ch06_schedules.py SCHEDULES.csv OUT.png")
    rows = {}
    with open(args[0], newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["schedule"], []).append((int(r["step"]), float(r["lr"])))
    if not rows:
        sys.exit(f"ch06_schedules.py: expected rows in {args[0]}, found none")

    fig, (short, full) = plt.subplots(1, 2, figsize=(13, 4.8))
    marked = set()
    for name, pts in rows.items():
        color, ls, lw = STYLE.get(name, (None, "-", 1.5))
        steps = [p[0] for p in pts]
        lrs = [p[1] for p in pts]
        k = max(range(len(lrs)), key=lambda i: lrs[i])
        for ax, last in ((short, SEED_RUN), (full, steps[-1])):
            n = sum(1 for s in steps if s <= last)
            ax.plot(steps[:n], lrs[:n], color=color, ls=ls, lw=lw, label=LABEL.get(name, name))
            if steps[k] <= last:
                ax.plot([steps[k]], [lrs[k]], "o", color=color, ms=5)
                if ax is full and (steps[k], round(lrs[k], 12)) not in marked:
                    marked.add((steps[k], round(lrs[k], 12)))
                    ax.annotate(f"peak {lrs[k]:.2e}\nat {steps[k]}", (steps[k], lrs[k]), textcoords="offset points",
                                xytext=(6, 4), fontsize=8, color=color)
    short.set_title(f"The seed's run: {SEED_RUN} steps (Noam warmup 4000 never leaves warmup)", fontsize=10)
    full.set_title(f"{max(p[0] for pts in rows.values() for p in pts)} steps, peaks marked", fontsize=10)
    full.axvline(SEED_RUN, color="gray", lw=0.8, ls="--")
    full.text(SEED_RUN, full.get_ylim()[0], f" end of the seed's run (step {SEED_RUN})", fontsize=8, color="gray",
              va="bottom", rotation=90)
    if "noam_w4000" in rows:  # where the seed's schedule stands when its run ends
        pts = dict(rows["noam_w4000"])
        peak = max(pts.values())
        if SEED_RUN in pts:
            short.annotate(f"noam_w4000 at step {SEED_RUN}: {pts[SEED_RUN]:.2e}\n= {pts[SEED_RUN] / peak:.0%} of its peak",
                           (SEED_RUN, pts[SEED_RUN]), textcoords="offset points", xytext=(-170, 30), fontsize=8,
                           color="tab:red", arrowprops={"arrowstyle": "->", "color": "tab:red"})
    for ax in (short, full):
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("learning rate")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Learning-rate schedules (d_model 128, factor 1; cosine and inverse sqrt share Noam-400's peak)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(args[1], dpi=110)


if __name__ == "__main__":
    main(sys.argv[1:])
