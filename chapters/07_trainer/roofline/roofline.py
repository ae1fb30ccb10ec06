#!/usr/bin/env python3
"""The roofline of chapter 07's fp32 training step on one cpu core: how much of a step is
GEMM, and the shortest step any program could take on this core.

    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 chapters/07_trainer/roofline/roofline.py \\
        [--bin-dir build/default/bin] [--steps 50,150] [--rounds 3]

Runs halfway-train (fp32, cpu backend) and pytorch_reference.py (fp32) under the
ch07_sgemm_counter LD_PRELOAD wrapper, each at two step counts, and takes the difference:
one training step's GEMM calls, flops and seconds, and its cpu time (the children's
rusage), with start-up and the final evaluation cancelled out; the median of --rounds such
pairs (the two programs alternate, so a change in the machine's load falls on both). One
thread: the floor below is per core. Then ch07_fma_peak gives
the core's fp32 multiply-add peak, and the GEMM flops of a step divided by it are the
floor under the step of ANY program that computes this model's GEMMs in fp32 on this core.
Issue 15 asked for a step at most 0.25x PyTorch's; the last lines compare that target
with the floor.
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
REFERENCE = os.path.join(HERE, "..", "pytorch_reference.py")
COUNTER = re.compile(r"^sgemm_counter: calls (\d+) flops (\S+) seconds (\S+)$", re.M)


def run(cmd, env):
    """(calls, flops, gemm seconds, cpu seconds, wall seconds) of one run of cmd."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"roofline: {' '.join(cmd)} failed with exit code {r.returncode}:\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
    m = COUNTER.search(r.stderr)
    if not m:
        sys.exit(f"roofline: no sgemm_counter line from {cmd[0]}: did LD_PRELOAD load the counter?")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return int(m.group(1)), float(m.group(2)), float(m.group(3)), cpu, wall


def per_step(cmd_of, steps, env):
    """One step: the difference of a long and a short run, divided by the steps between."""
    short, long_ = (run(cmd_of(n), env) for n in steps)
    n = steps[1] - steps[0]
    return [(b - a) / n for a, b in zip(short, long_)]


def medians(samples):
    """The median of each quantity over the rounds."""
    return [statistics.median(column) for column in zip(*samples)]


def checked_args(a, tool):
    """(steps, halfway-train, the counter, the peak program) from --steps, --rounds and
    --bin-dir; one line and exit on a bad value or a missing program."""
    try:
        steps = [int(s) for s in a.steps.split(",")]
        assert len(steps) == 2 and 0 < steps[0] < steps[1]
    except (ValueError, AssertionError):
        sys.exit(f"{tool}: --steps: expected two step counts 'short,long' with short < long, found '{a.steps}'")
    if a.rounds < 1:
        sys.exit(f"{tool}: --rounds: expected at least 1, found {a.rounds}")
    programs = [os.path.join(a.bin_dir, name) for name in ("halfway-train", "ch07_sgemm_counter.so", "ch07_fma_peak")]
    for path in programs:
        if not os.path.exists(path):
            sys.exit(f"{tool}: expected {path}: cmake --build <build> --target halfway-train ch07_sgemm_counter "
                     "ch07_fma_peak, and --bin-dir <build>/bin")
    return (steps, *programs)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin-dir", default=os.path.join(ROOT, "build", "default", "bin"))
    p.add_argument("--steps", default="50,150", help="the two step counts (short,long)")
    p.add_argument("--rounds", type=int, default=3, help="pairs of runs per program; the median is kept")
    a = p.parse_args()
    steps, train, counter, peak = checked_args(a, "roofline")
    env = dict(os.environ, LD_PRELOAD=counter, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               OMP_WAIT_POLICY="PASSIVE")
    print(f"roofline: fp32, 1 thread, steps {steps[1]} - {steps[0]}, median of {a.rounds} round(s), "
          f"OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')}", flush=True)
    commands = {
        "halfway-train": lambda n: [train, "--precision", "fp32", "--backend", "cpu", "--threads", "1",
                                    "--eval-every", "0", "--steps", str(n)],
        "PyTorch": lambda n: [sys.executable, REFERENCE, "--precision", "fp32", "--threads", "1", "--steps", str(n)],
    }
    samples = {name: [] for name in commands}
    for _ in range(a.rounds):
        for name, cmd_of in commands.items():
            samples[name].append(per_step(cmd_of, steps, env))
    rows = {name: medians(s) for name, s in samples.items()}
    out = subprocess.run([peak], stdout=subprocess.PIPE, text=True, check=True).stdout
    gflops_peak = float(re.search(r"([\d.]+) GFLOP/s", out).group(1))

    print("| program | GEMM calls/step | GEMM GFLOP/step | GEMM ms/step | GEMM GFLOP/s | step ms (cpu) | "
          "rest ms | GEMM share |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (calls, flops, gemm_s, cpu_s, _) in rows.items():
        print(f"| {name} | {calls:.0f} | {flops / 1e9:.3f} | {gemm_s * 1e3:.1f} | {flops / gemm_s / 1e9:.0f} | "
              f"{cpu_s * 1e3:.1f} | {(cpu_s - gemm_s) * 1e3:.1f} | {gemm_s / cpu_s:.0%} |")
    ours, theirs = rows["halfway-train"], rows["PyTorch"]
    floor_ms = ours[1] / (gflops_peak * 1e9) * 1e3  # core time, as the cpu columns
    target_ms = 0.25 * theirs[3] * 1e3
    print(f"\n{out.strip()}")
    print(f"halfway-train / PyTorch, cpu time per step: {ours[3] / theirs[3]:.2f}x")
    print(f"floor: {ours[1] / 1e9:.3f} GFLOP of GEMM at {gflops_peak:.0f} GFLOP/s a core = "
          f"{floor_ms:.1f} ms of cpu time a step ({floor_ms / (theirs[3] * 1e3):.2f}x PyTorch's step) before any other work")
    print(f"target 0.25x PyTorch: {target_ms:.1f} ms a step; halfway-train's work besides its GEMMs: "
          f"{(ours[3] - ours[2]) * 1e3:.1f} ms; with GEMMs at the peak its step would take "
          f"{floor_ms + (ours[3] - ours[2]) * 1e3:.1f} ms = "
          f"{(floor_ms + (ours[3] - ours[2]) * 1e3) / (theirs[3] * 1e3):.2f}x")


if __name__ == "__main__":
    main()
