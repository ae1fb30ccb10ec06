#!/usr/bin/env python3
"""The step-time table of chapter 07's trainer on one cpu core, per precision (fp32, fp16,
bf16) and per cpu ISA path: the step, its GEMMs (time and rate against the core's peak),
what the 16-bit formats add (conversions), everything else, and the ratio to fp32's step.

    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 chapters/07_trainer/roofline/step_time.py \\
        [--bin-dir build/default/bin] [--steps 30,120] [--rounds 3] [--paths generic,avx2,...]
        [--precisions fp32,bf16]

One step is the difference of a long and a short halfway-train run (roofline.py's method:
start-up and the final evaluation cancel), its cpu time from the children's rusage, one
thread, under the ch07_sgemm_counter LD_PRELOAD wrapper, which times every OpenBLAS sgemm
call by the clock on the wall. The columns:
  - GEMM: the step's cpu time inside sgemm (its share of the step's wall time, which the
    counter measures, times the step's cpu time: on a loaded machine the wall clock also
    counts the waits for a core, in the GEMMs and outside them alike) and its rate, against
    ch07_fma_peak's fp32 peak (the roofline of the path). A path whose GEMM does not call
    sgemm shows no GEMM time; its GEMM is then inside "16-bit extra".
  - 16-bit extra: the step's time outside sgemm minus fp32's time outside sgemm, measured in
    the same round on the same path. A 16-bit step does fp32's math on the same shapes plus
    conversions (and reads half the bytes), so this is what the conversions cost, net.
  - the rest: the step outside sgemm less that extra (the optimizer, dropout, LayerNorm, ...).
  - x fp32: the step against fp32's step, same round, same path.
The precisions alternate within a round, so a change in the machine's load falls on all.

ISA paths: HALFWAY_CPU_ISA=generic|avx2|avx512|avx512bf16|amx forces the cpu GEMM's path (and
caps the host's other fast paths at its instructions; the avx2 path's fp32 runs OpenBLAS's
Haswell kernels: an AVX2-only CPU's step) where the trainer has them (it names the path it runs in a line "cpu isa: NAME"). Each path this
CPU's flags allow is tried; a path the trainer does not name back is reported as not
available, and without any such line the table has one row per precision, the default path.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

from roofline import checked_args, per_step

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
PRECISIONS = ("fp32", "fp16", "bf16")
# The cpu flags each path needs (/proc/cpuinfo's names).
PATH_FLAGS = {
    "generic": [],
    "avx2": ["avx2", "fma", "f16c"],
    "avx512": ["avx512f"],
    "avx512bf16": ["avx512f", "avx512_bf16"],
    "amx": ["amx_tile", "amx_bf16"],
}
# OpenBLAS's kernels for fp32 on a path that stands for a narrower CPU: with HALFWAY_CPU_ISA=avx2
# halfway's own host code takes no AVX-512 (common/host_simd.hpp), and fp32 takes OpenBLAS's
# AVX2 kernels, so the avx2 rows are an AVX2-only CPU's step measured on this one.
OPENBLAS_FOR_PATH = {"avx2": "Haswell"}
ISA_LINE = re.compile(r"cpu isa:\s*(\w+)", re.I)
# The flags the table quotes (those that decide the paths and the conversions).
QUOTED_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


def cpu_model():
    """(model name, the quoted flags this CPU has) from /proc/cpuinfo."""
    name, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name == "unknown CPU":
                    name = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return name, flags


def path_named(train, env):
    """The path a short run names ("cpu isa: NAME"), or None when it names none."""
    r = subprocess.run([train, "--size", "tiny", "--steps", "1", "--backend", "cpu", "--threads", "1",
                        "--eval-every", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    m = ISA_LINE.search(r.stdout)
    return m.group(1).lower() if r.returncode == 0 and m else None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin-dir", default=os.path.join(ROOT, "build", "default", "bin"))
    p.add_argument("--steps", default="30,120", help="the two step counts (short,long)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of runs; the median is kept")
    p.add_argument("--paths", default="", help="comma-separated ISA paths to try (default: all the CPU has)")
    p.add_argument("--precisions", default=",".join(PRECISIONS),
                   help="comma-separated precisions (fp32 always runs: the ratios are to its step)")
    a = p.parse_args()
    precisions = ["fp32"] + [q for q in a.precisions.split(",") if q and q != "fp32"]
    for q in precisions:
        if q not in PRECISIONS:
            sys.exit(f"step_time: --precisions: expected names from {', '.join(PRECISIONS)}, found '{q}'")
    steps, train, counter, peak = checked_args(a, "step_time")
    wanted = [s for s in a.paths.split(",") if s] or list(PATH_FLAGS)
    for s in wanted:
        if s not in PATH_FLAGS:
            sys.exit(f"step_time: --paths: expected names from {', '.join(PATH_FLAGS)}, found '{s}'")

    model, flags = cpu_model()
    base = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    base.pop("HALFWAY_CPU_ISA", None)
    # The paths to measure: (label, environment). Without a trainer that names its path, one: the default.
    paths = []
    if path_named(train, base) is None:
        paths.append(("default", base))
        print("step_time: halfway-train names no cpu isa path (no HALFWAY_CPU_ISA): the default path only")
    else:
        for s in wanted:
            if not all(f in flags for f in PATH_FLAGS[s]):
                print(f"step_time: path {s}: this CPU lacks {' '.join(f for f in PATH_FLAGS[s] if f not in flags)}")
                continue
            env = dict(base, HALFWAY_CPU_ISA=s)
            if s in OPENBLAS_FOR_PATH:
                env["OPENBLAS_CORETYPE"] = OPENBLAS_FOR_PATH[s]
            named = path_named(train, env)
            if named != s:
                print(f"step_time: path {s}: not available (the trainer ran {named or 'no named path'})")
                continue
            paths.append((s, env))
    gflops_peak = float(re.search(r"([\d.]+) GFLOP/s",
                                  subprocess.run([peak], stdout=subprocess.PIPE, text=True, check=True).stdout).group(1))
    print(f"step_time: {model}; flags: {' '.join(f for f in QUOTED_FLAGS if f in flags) or '(none of ' + ' '.join(QUOTED_FLAGS) + ')'}")
    print(f"step_time: 1 thread, steps {steps[1]} - {steps[0]}, median of {a.rounds} round(s), "
          f"OPENBLAS_CORETYPE={base.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"({', '.join(f'{k}: {v}' for k, v in OPENBLAS_FOR_PATH.items())}), fp32 peak {gflops_peak:.0f} GFLOP/s a core",
          flush=True)

    cmd = lambda precision: lambda n: [train, "--precision", precision, "--backend", "cpu", "--threads", "1",
                                       "--eval-every", "0", "--steps", str(n)]
    # samples[path][precision]: per round, (gemm s, flops, step s, 16-bit extra s, ratio), cpu time
    samples = {label: {q: [] for q in precisions} for label, _ in paths}
    for r in range(a.rounds):
        for label, env in paths:
            env = dict(env, LD_PRELOAD=counter)
            got = {}
            for q in precisions:
                calls, flops, gemm_wall, cpu_s, wall = per_step(cmd(q), steps, env)
                got[q] = (flops, gemm_wall / wall * cpu_s if wall > 0 else 0.0, cpu_s)
            rest32 = got["fp32"][2] - got["fp32"][1]
            for q in precisions:
                flops, gemm_s, cpu_s = got[q]
                samples[label][q].append((gemm_s, flops, cpu_s, (cpu_s - gemm_s) - rest32, cpu_s / got["fp32"][2]))
            print(f"step_time: round {r + 1}, {label}: " +
                  ", ".join(f"{q} {got[q][2] * 1e3:.1f} ms ({got[q][2] / got['fp32'][2]:.2f}x)" for q in precisions),
                  flush=True)

    print(f"\n| CPU, path | precision | step ms | GEMM ms | GEMM GFLOP/s (of {gflops_peak:.0f}) | "
          "16-bit extra ms | the rest ms | x fp32 |")
    print("|---|---|---|---|---|---|---|---|")
    for label, _ in paths:
        for q in precisions:
            gemm_s, flops, cpu_s, extra_s, ratio = (statistics.median(c) for c in zip(*samples[label][q]))
            gemm = f"{gemm_s * 1e3:.1f}" if gemm_s > 0 else "(not sgemm)"
            rate = f"{flops / gemm_s / 1e9:.0f}" if gemm_s > 0 else "-"
            extra = f"{extra_s * 1e3:.1f}" if q != "fp32" else "-"
            rest = (cpu_s - gemm_s - (extra_s if q != "fp32" else 0)) * 1e3
            print(f"| {model}, {label} | {q} | {cpu_s * 1e3:.1f} | {gemm} | {rate} | {extra} | {rest:.1f} | "
                  f"{ratio:.2f}x |")


if __name__ == "__main__":
    main()
