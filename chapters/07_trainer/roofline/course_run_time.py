#!/usr/bin/env python3
"""The step time of `./course run` per precision, on one thread and on the default threads
(all the cores the process may use), measured back to back: halfway-train with its defaults
(the seed model, seed 1, the cpu backend) for a short run, its wall time per step.

    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 chapters/07_trainer/roofline/course_run_time.py \\
        [--bin build/cpu-only/bin/halfway-train] [--base OTHER/halfway-train] [--steps 40] \\
        [--rounds 3] [--threads 1,default] [--isa avx2]

A step is the median of the per-step differences of the log's `seconds` column (--log-every
1) after the first 3 steps (the first allocates every buffer). The configurations (binary,
precision, threads) alternate within a round, so a change of the machine's load falls on
all of them; each cell is the median over the rounds, with the rounds' range: on a shared
machine that range is the noise to compare a ratio with. OMP_WAIT_POLICY and GOMP_SPINCOUNT
are removed from the environment (a student's shell sets neither); --isa sets
HALFWAY_CPU_ISA (the 16-bit GEMM's path; fp32 is OpenBLAS's sgemm on every path). --base
adds a second binary (e.g. main's build) measured in the same rounds.
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile

PRECISIONS = ("fp32", "fp16", "bf16")


def step_ms(train, precision, threads, steps, env):
    """Median wall milliseconds a step of one short run."""
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "run.csv")
        cmd = [train, "--precision", precision, "--backend", "cpu", "--steps", str(steps), "--eval-every", "0",
               "--log-every", "1", "--log", log]
        if threads != "default":
            cmd += ["--threads", threads]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        if r.returncode != 0:
            sys.exit(f"course_run_time: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-300:]}")
        with open(log, newline="") as f:
            seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
    diffs = [b - a for a, b in zip(seconds, seconds[1:])][3:]
    if not diffs:
        sys.exit(f"course_run_time: --steps {steps} leaves no step to time (at least 5)")
    return 1000.0 * statistics.median(diffs)


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
    p.add_argument("--bin", default=os.path.join(root, "build", "default", "bin", "halfway-train"))
    p.add_argument("--base", default="", help="a second halfway-train measured in the same rounds")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", default="1,default", help="comma-separated: a count, or default (no --threads)")
    p.add_argument("--precisions", default=",".join(PRECISIONS))
    p.add_argument("--isa", default="", help="HALFWAY_CPU_ISA for every run (default: the CPU's best path)")
    a = p.parse_args()
    bins = [("this", a.bin)] + ([("base", a.base)] if a.base else [])
    for _, b in bins:
        if not os.access(b, os.X_OK):
            sys.exit(f"course_run_time: no halfway-train at {b} (build it, or pass --bin)")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "HALFWAY_CPU_ISA")}
    if a.isa:
        env["HALFWAY_CPU_ISA"] = a.isa
    threads = [t for t in a.threads.split(",") if t]
    precisions = [q for q in a.precisions.split(",") if q]
    configs = [(name, b, q, t) for t in threads for name, b in bins for q in precisions]
    print(f"course_run_time: {a.steps} steps a run, {a.rounds} round(s), cpus {len(os.sched_getaffinity(0))}, "
          f"HALFWAY_CPU_ISA={a.isa or '(unset)'}, OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"load before: {load()}", flush=True)
    ms = {c: [] for c in configs}
    for r in range(a.rounds):
        for c in configs:
            ms[c].append(step_ms(c[1], c[2], c[3], a.steps, env))
        print(f"  round {r + 1} done, load {load()}", flush=True)
    print("\n| binary | threads | precision | ms a step (median) | rounds' range | x fp32 (same binary and threads, median of the rounds' ratios) |")
    print("|---|---|---|---|---|---|")
    for name, b, q, t in configs:
        med = statistics.median(ms[(name, b, q, t)])
        ref = ms.get((name, b, "fp32", t))
        # The ratio within each round (same load), then its median.
        ratio = statistics.median(x / y for x, y in zip(ms[(name, b, q, t)], ref)) if ref else float("nan")
        lo, hi = min(ms[(name, b, q, t)]), max(ms[(name, b, q, t)])
        print(f"| {name} | {t} | {q} | {med:.1f} | {lo:.1f}-{hi:.1f} | {ratio:.2f}x |")
    print(f"\nload after: {load()}")


if __name__ == "__main__":
    main()
