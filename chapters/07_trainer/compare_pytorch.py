#!/usr/bin/env python3
"""halfway-train against its PyTorch peer (pytorch_reference.py), side by side: the same
model, data order, initial weights, optimizer, schedule and clipping, the same steps and seed,
at each thread count; one table of step time, the ratio halfway/PyTorch, held-out exact
match, token accuracy and final loss.

    compare_pytorch.py [--halfway-train PATH] [--threads 1,2] [--steps 1200] [--rounds 1]
                       [--precision fp32|bf16] [--seed 1] [--csv FILE]

    compare_pytorch.py --steps 100          # timing only (a short run learns little)
    compare_pytorch.py                      # the full 1200 steps: timing and accuracy

Runs with a Python that has torch (Debian's /usr/bin/python3); export OPENBLAS_CORETYPE as
for every course program (both sides use OpenBLAS for their matrix products). The two programs
alternate (halfway first at one thread count, PyTorch first at the next, and so on through
--rounds), so a change in the machine's load falls on both alike; each run is timed on its
own, the step time is the median over its steps after the first 5, and the cpu time (user +
system of the process, all its threads) per step is shown too: on a shared machine it moves
less than the wall time (both count the training loop only, all threads). The load average
before each run is printed with it.

OMP_WAIT_POLICY is PASSIVE for both programs by default: both run OpenMP (libgomp) next to
OpenBLAS's own pthreads, and libgomp's default spin-waiting threads fight OpenBLAS's spinning
workers and the machine's other processes for 2 cores. Measured here at load 7, 25 steps at 2
threads: PyTorch 2120 ms/step spinning, 180 passive; halfway-train 128-189 spinning, 115-117
passive. --omp-wait-policy inherit keeps the environment's setting.

halfway-train: --precision P --backend cpu --threads T --eval-every 0 --log FILE.jsonl (its
step times and losses come from the log; the held-out result from its final report line).
"""
import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "pytorch_reference.py")
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TIMING_WARMUP = 5  # steps left out of the median (first allocations, thread start-up): as pytorch_reference.py
TRAINED = re.compile(r"^trained (\d+) steps in [\d.]+ s \([\d.]+ ms/step; cpu time ([\d.]+) s\)", re.M)
HELD_OUT = re.compile(r"^held-out: exact match [\d.]+% \((\d+)/(\d+)\), token accuracy ([\d.]+)%", re.M)


def find_halfway_train(given):
    if given:
        return given
    for build in ("default", "release"):
        path = os.path.join(ROOT, "build", build, "bin", "halfway-train")
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("halfway-train")
    if not found:
        sys.exit("compare_pytorch: expected halfway-train in build/default (cmake --build build/default --target "
                 "halfway-train) or on PATH, found neither: give --halfway-train PATH")
    return found


def timed_run(cmd, env):
    """(stdout, wall seconds of the whole process); exits with its output on failure."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"compare_pytorch: {' '.join(cmd)} failed with exit code {r.returncode}:\n{r.stdout[-2000:]}"
                 f"{r.stderr[-2000:]}")
    return r.stdout, wall


def moving_average(losses):
    """halfway-train's reported loss: 0.95 avg + 0.05 loss, from the first step's loss."""
    avg = None
    for x in losses:
        avg = x if avg is None else 0.95 * avg + 0.05 * x
    return avg


def run_halfway(exe, a, threads, tmp, env):
    log = os.path.join(tmp, f"halfway-{threads}.jsonl")
    cmd = [exe, "--precision", a.precision, "--backend", "cpu", "--threads", str(threads), "--steps", str(a.steps),
           "--seed", str(a.seed), "--lr-factor", str(a.lr_factor), "--eval-every", "0", "--log-every", "1", "--log", log]
    out, wall = timed_run(cmd, env)
    with open(log) as f:
        rows = [json.loads(line) for line in f]
    seconds = [r["seconds"] for r in rows]
    steps = [t - s for s, t in zip([0.0] + seconds, seconds)]  # the log's time is since the first step began
    m, c = HELD_OUT.search(out), TRAINED.search(out)
    if not m or not c:
        sys.exit(f"compare_pytorch: no 'trained ... cpu time' or 'held-out: exact match' line in halfway-train's "
                 f"output:\n{out[-2000:]}")
    return dict(program="halfway", threads=threads, step_ms=1e3 * statistics.median(steps[TIMING_WARMUP:] or steps),
                final_loss=moving_average([r["loss"] for r in rows]),
                exact_match=int(m.group(1)) / int(m.group(2)), token_accuracy=float(m.group(3)) / 100,
                wall_s=wall, cpu_ms=1e3 * float(c.group(2)) / int(c.group(1)), command=" ".join(cmd))


def run_pytorch(a, threads, env):
    cmd = [sys.executable, REFERENCE, "--precision", a.precision, "--threads", str(threads), "--steps", str(a.steps),
           "--seed", str(a.seed), "--lr-factor", str(a.lr_factor), "--json"]
    out, wall = timed_run(cmd, env)
    r = json.loads(out.strip().splitlines()[-1])
    if r["threads"] != threads:
        sys.exit(f"compare_pytorch: PyTorch ran on {r['threads']} threads, expected {threads}")
    return dict(program="pytorch", threads=threads, step_ms=r["step_ms"], final_loss=r["final_loss"],
                exact_match=r["exact_match"], token_accuracy=r["token_accuracy"], wall_s=wall,
                cpu_ms=r["cpu_ms"], command=" ".join(cmd))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--halfway-train", help="the program (default: build/default/bin/halfway-train)")
    p.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    p.add_argument("--steps", type=int, default=1200, help="steps per run (1200: the default run; fewer: timing only)")
    p.add_argument("--rounds", type=int, default=1, help="runs of each program at each thread count (median shown)")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr-factor", type=float, default=0.25)
    p.add_argument("--omp-wait-policy", choices=["passive", "active", "inherit"], default="passive",
                   help="OMP_WAIT_POLICY for both programs (see above; inherit: leave the environment's)")
    p.add_argument("--csv", help="also write every run as a CSV row")
    a = p.parse_args()
    try:
        threads = [int(t) for t in a.threads.split(",")]
    except ValueError:
        p.error(f"--threads {a.threads}: expected thread counts such as 1,2")
    if a.steps <= 2 * TIMING_WARMUP or a.rounds < 1 or min(threads) < 1:
        p.error(f"expected --steps > {2 * TIMING_WARMUP}, --rounds >= 1 and thread counts >= 1")
    exe = find_halfway_train(a.halfway_train)
    env = dict(os.environ)
    if a.omp_wait_policy != "inherit":
        env["OMP_WAIT_POLICY"] = a.omp_wait_policy.upper()
    print(f"compare_pytorch: {a.precision}, {a.steps} steps, seed {a.seed}, threads {threads}, {a.rounds} round(s); "
          f"{os.cpu_count()} cpus, OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OMP_WAIT_POLICY={env.get('OMP_WAIT_POLICY', '(unset)')}")
    runs = []
    with tempfile.TemporaryDirectory(prefix="halfway-compare-") as tmp:
        flip = False
        for _ in range(a.rounds):
            for t in threads:
                order = [lambda: run_pytorch(a, t, env), lambda: run_halfway(exe, a, t, tmp, env)]
                for go in (order if flip else reversed(order)):
                    load = os.getloadavg()[0]
                    r = go()
                    r["load"] = load
                    runs.append(r)
                    print(f"  {r['program']:8s} {t} thread(s): {r['step_ms']:7.1f} ms/step (cpu {r['cpu_ms']:6.1f}), "
                          f"exact match {100 * r['exact_match']:5.1f}%, loss {r['final_loss']:.4f}, "
                          f"wall {r['wall_s']:6.1f} s, load before {load:.1f}", flush=True)
                flip = not flip
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(runs[0]))
            w.writeheader()
            w.writerows(runs)

    def med(program, t, key):
        return statistics.median(r[key] for r in runs if r["program"] == program and r["threads"] == t)

    print()
    print("| threads | halfway ms/step | PyTorch ms/step | halfway/PyTorch | cpu ms/step halfway / PyTorch "
          "| exact match halfway / PyTorch | token accuracy halfway / PyTorch | final loss halfway / PyTorch |")
    print("|---|---|---|---|---|---|---|---|")
    for t in threads:
        h, q = med("halfway", t, "step_ms"), med("pytorch", t, "step_ms")
        print(f"| {t} | {h:.1f} | {q:.1f} | {h / q:.2f}x | {med('halfway', t, 'cpu_ms'):.1f} / {med('pytorch', t, 'cpu_ms'):.1f} "
              f"| {100 * med('halfway', t, 'exact_match'):.1f}% / {100 * med('pytorch', t, 'exact_match'):.1f}% "
              f"| {100 * med('halfway', t, 'token_accuracy'):.1f}% / {100 * med('pytorch', t, 'token_accuracy'):.1f}% "
              f"| {med('halfway', t, 'final_loss'):.4f} / {med('pytorch', t, 'final_loss'):.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
