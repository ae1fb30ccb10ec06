#!/usr/bin/env python3
"""The step time of `./course run` per precision, on one thread and on the default threads
(all the cores the process may use), measured back to back: halfway-train with its defaults
(the seed model, seed 1, the cpu backend) for a short run, its wall time per step.

    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 chapters/07_trainer/roofline/course_run_time.py \\
        [--bin build/cpu-only/bin/halfway-train] [--base OTHER/halfway-train] [--steps 40] \\
        [--rounds 3] [--threads 1,default] [--isa avx2]

A step's wall time is the median of the per-step differences of the log's `seconds` column
(--log-every 1) after the first 3 steps (the first allocates every buffer); its cpu time is
the training loop's (all threads) that halfway-train prints, over the steps (printed to
0.1 s: use enough steps). The configurations (binary,
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
import re
import statistics
import subprocess
import sys
import tempfile

PRECISIONS = ("fp32", "fp16", "bf16")
# halfway-train's closing line: "trained N steps in S s (M ms/step; cpu time C s)".
TRAINED = re.compile(r"^trained (\d+) steps in [\d.]+ s \([\d.]+ ms/step; cpu time ([\d.]+) s\)", re.M)


def step_ms(train, precision, threads, steps, env):
    """(median wall milliseconds a step, cpu milliseconds a step) of one short run."""
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "run.csv")
        cmd = [train, "--precision", precision, "--backend", "cpu", "--steps", str(steps), "--eval-every", "0",
               "--log-every", "1", "--log", log]
        if threads != "default":
            cmd += ["--threads", threads]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if r.returncode != 0:
            sys.exit(f"course_run_time: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-300:]}")
        with open(log, newline="") as f:
            seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
    diffs = [b - a for a, b in zip(seconds, seconds[1:])][3:]
    m = TRAINED.search(r.stdout)
    if not diffs or not m:
        sys.exit(f"course_run_time: --steps {steps} leaves no step to time (at least 5), or no 'trained' line")
    return 1000.0 * statistics.median(diffs), 1000.0 * float(m.group(2)) / int(m.group(1))


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
    print("\nwall: the median step; cpu: the training loop's cpu time (all threads) / steps, as halfway-train "
          "prints it; each the median over the rounds, with the rounds' range, and x fp32: the median of the "
          "rounds' ratios to fp32 (same binary, threads and round)")
    print("\n| binary | threads | precision | wall ms a step | range | x fp32 | cpu ms a step | range | x fp32 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, b, q, t in configs:
        cells = []
        for i in (0, 1):
            got = [x[i] for x in ms[(name, b, q, t)]]
            ref = [x[i] for x in ms.get((name, b, "fp32", t), [])]
            ratio = statistics.median(x / y for x, y in zip(got, ref)) if ref else float("nan")
            cells.append(f"{statistics.median(got):.1f} | {min(got):.1f}-{max(got):.1f} | {ratio:.2f}x")
        print(f"| {name} | {t} | {q} | {' | '.join(cells)} |")
    print(f"\nload after: {load()}")


if __name__ == "__main__":
    main()
