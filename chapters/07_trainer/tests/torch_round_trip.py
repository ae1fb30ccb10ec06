#!/usr/bin/env python3
"""The PyTorch round trip of a halfway-train checkpoint (issue 15, point 4):

  1. halfway-train trains the tiny model for a few dozen steps in fp32 on the cpu and writes a
     checkpoint and a per-step log;
  2. the data order: each logged step's target-token count equals that of the batch
     common/python/halfway_task.py draws for that step (the same 32 numbers, or counts that
     differ somewhere);
  3. `halfway-train translate --held-out` and `pytorch_reference.py --load --held-out` greedy-decode
     the held-out numbers: the same numbers in the same order (the split), the same output for
     every one (the weights, their names and layout, the positions, the masks, the decoder).

    torch_round_trip.py HALFWAY_TRAIN [--steps 60] [--keep DIR]

Runs the reference with this interpreter (it needs torch: exit code 77, ctest's "Skipped",
when it cannot import it). Exit code 1 with the first difference otherwise.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "pytorch_reference.py")
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "common", "python"))

# A model that says the same thing for every number would agree with any wrong loader; after
# 60 steps the tiny model's outputs differ from number to number (about 100 distinct outputs
# of 200 here). Below this many the comparison is declared meaningless.
MIN_DISTINCT_OUTPUTS = 20


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode == 77:
        print(f"torch_round_trip: skipped: {r.stderr.strip()}")
        sys.exit(77)
    if r.returncode != 0:
        sys.exit(f"torch_round_trip: {' '.join(cmd)} failed with exit code {r.returncode}:\n{r.stdout}{r.stderr}")
    return r.stdout


def predictions(text):
    """'407 -> four zero seven' lines to [(407, 'four zero seven')]."""
    out = []
    for line in text.splitlines():
        number, sep, words = line.partition(" -> ")
        if sep:
            out.append((int(number), words))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("halfway_train")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--keep", help="write the checkpoint and log here (default: a temporary folder, removed)")
    a = p.parse_args()
    try:
        import torch  # noqa: F401  (only to skip early and clearly)
        import halfway_task as task  # numpy: torch's dependency
    except ImportError:
        print("torch_round_trip: skipped: this Python cannot import torch (Debian: apt-get install python3-torch)")
        return 77
    with tempfile.TemporaryDirectory(prefix="halfway-roundtrip-") as tmp:
        work = a.keep or tmp
        ckpt, log = os.path.join(work, "ckpt"), os.path.join(work, "log.jsonl")
        run([a.halfway_train, "--size", "tiny", "--precision", "fp32", "--backend", "cpu", "--steps", str(a.steps),
             "--eval-every", "0", "--checkpoint", ckpt, "--log", log])

        with open(log) as f:
            rows = [json.loads(line) for line in f]
        train, held_out = task.split_numbers(0)
        order = task.DataOrder(train, 32, 1)
        for r in rows:
            want = sum(len(str(n)) + 1 for n in order.batch(r["step"] - 1))
            if r["tokens"] != want:
                sys.exit(f"torch_round_trip: step {r['step']}: halfway-train's batch has {r['tokens']} target tokens, "
                         f"halfway_task.py's {want}: the Python data order is not the trainer's")

        ours = predictions(run([a.halfway_train, "translate", "--resume", ckpt, "--held-out"]))
        theirs = predictions(run([sys.executable, REFERENCE, "--load", ckpt, "--held-out"]))
        if [n for n, _ in ours] != held_out or [n for n, _ in theirs] != held_out:
            sys.exit("torch_round_trip: the held-out numbers differ: halfway-train "
                     f"{[n for n, _ in ours][:8]}..., PyTorch {[n for n, _ in theirs][:8]}..., "
                     f"halfway_task.py {held_out[:8]}...")
        differ = [(n, w, v) for (n, w), (_, v) in zip(ours, theirs) if w != v]
        distinct = len({w for _, w in ours})
        exact = sum(w == task.words(task.target_tokens(n)) for n, w in ours)
        print(f"torch_round_trip: {len(rows)} steps, {len(ours)} held-out numbers, {distinct} distinct outputs, "
              f"exact match {exact}/{len(ours)}; PyTorch differs on {len(differ)}")
        if differ:
            for n, w, v in differ[:10]:
                print(f"  {n}: halfway-train '{w}', PyTorch '{v}'")
            return 1
        if distinct < MIN_DISTINCT_OUTPUTS:
            print(f"torch_round_trip: only {distinct} distinct outputs (expected >= {MIN_DISTINCT_OUTPUTS}): "
                  "the model is too untrained for equal predictions to show equal models")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
