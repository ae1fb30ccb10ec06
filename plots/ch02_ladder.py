#!/usr/bin/env python3
"""Chapter 02's ladder figure from ch02_gemm_bench JSONL logs.

    python3 plots/ch02_ladder.py RESULTS.jsonl [MORE.jsonl ...] OUT.png

One panel per backend found in the logs (cuda: TFLOP/s of each kernel of the ladder with
cuBLAS as the reference line; cpu: GFLOP/s of the cpu GEMM and OpenBLAS sgemm; emu: the
ladder's times under the emulator). Only the latest run of each backend is drawn.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LADDER = ["naive", "smem_tiled", "wmma_naive", "wmma_block", "wmma_pipeline", "wmma_best", "wmma_best_v1",
          "wmma_best_v2", "wmma_best_v3"]
LABELS = {
    "naive": "1 naive",
    "smem_tiled": "2 smem tiled",
    "wmma_naive": "3 WMMA naive",
    "wmma_block": "4 WMMA block",
    "wmma_pipeline": "5 cp.async",
    "wmma_best": "6 best",
    "wmma_best_v1": "6: 128x256",
    "wmma_best_v2": "6: 256x128",
    "wmma_best_v3": "6: BK 64",
    "cublas": "cuBLAS",
    "openblas_sgemm": "OpenBLAS sgemm",
    "cpu_gemm": "cpu GEMM",
}


def load(paths):
    records = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    records.append(json.loads(line))
    if not records:
        sys.exit(f"ch02_ladder.py: expected ch02_gemm_bench records in {', '.join(paths)}, found none")
    latest = {}
    for r in records:  # keep the last run (by date) of each backend
        b = r.get("backend", "?")
        if b not in latest or r.get("date", "") > latest[b]:
            latest[b] = r.get("date", "")
    return {b: [r for r in records if r.get("backend") == b and r.get("date", "") == d] for b, d in latest.items()}


def panel(ax, backend, runs):
    order = {k: i for i, k in enumerate(["cublas", "openblas_sgemm", "cpu_gemm"] + LADDER)}
    runs = sorted(runs, key=lambda r: order.get(r["kernel"], 99))
    names = [LABELS.get(r["kernel"], r["kernel"]) for r in runs]
    first = runs[0]
    shape = f'{first["m"]}x{first["n"]}x{first["k"]} {first.get("layout", "")} {first.get("dtype", "")}'
    if backend == "cuda":
        values = [r.get("gflops", 0) / 1e3 if r.get("valid") else 0 for r in runs]
        ax.set_ylabel("TFLOP/s")
        title = f'GPU: {first.get("machine", "")}\n{shape}'
    elif backend == "emu":
        values = [r.get("median_ms", 0) if r.get("valid") else 0 for r in runs]
        ax.set_ylabel("ms under the emulator (lower is better)")
        title = f"emulator on {first.get('machine', '')}\n{shape} (not GPU speed)"
    else:
        values = [r.get("gflops", 0) if r.get("valid") else 0 for r in runs]
        ax.set_ylabel("GFLOP/s")
        title = f'CPU: {first.get("machine", "")}\n{shape}'
    colors = ["#999999" if r["kernel"] == r.get("baseline") else "#3b75af" for r in runs]
    bars = ax.bar(range(len(runs)), values, color=colors)
    for bar, r in zip(bars, runs):
        if not r.get("valid"):
            text = "invalid"
        elif backend == "emu":
            text = f'{r.get("median_ms", 0):.2g}'
        else:
            text = f'{r.get("pct_of_baseline", 0):.0f}%'
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(runs)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: ch02_ladder.py RESULTS.jsonl [MORE.jsonl ...] OUT.png")
    groups = load(argv[1:-1])
    backends = [b for b in ("cuda", "cpu", "emu") if b in groups]
    fig, axes = plt.subplots(1, len(backends), figsize=(5.5 * len(backends), 4.2), squeeze=False)
    for ax, b in zip(axes[0], backends):
        panel(ax, b, groups[b])
    fig.suptitle("Chapter 02: the GEMM ladder (labels: % of the grey baseline; emu: ms)", fontsize=10)
    fig.tight_layout()
    fig.savefig(argv[-1], dpi=120)


if __name__ == "__main__":
    main(sys.argv)
