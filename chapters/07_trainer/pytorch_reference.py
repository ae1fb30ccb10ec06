#!/usr/bin/env python3
"""Chapter 07's PyTorch peer of halfway-train: the seed's program with its bugs fixed.

    pytorch_reference.py [--steps 1200] [--batch 32] [--seed 1] [--threads N] [--precision fp32|bf16]
                         [--size tiny|seed] [--warmup W] [--lr-factor 0.25] [--json] [--log FILE.jsonl]
        Trains the model on the task exactly as halfway-train sets it up, then greedy-decodes the
        held-out numbers: exact match, token accuracy, examples and failures. --json prints one
        line instead: {"step_ms": median step time, "exact_match", "token_accuracy", "final_loss", ...}.

    pytorch_reference.py --load DIR [--held-out | NUMBERS...] [--masters]
        Loads a halfway-train checkpoint (its safetensors weights carry PyTorch's parameter
        names) into the same torch model and evaluates it on the held-out numbers; with
        --held-out prints every held-out prediction ("407 -> four zero seven", the format of
        `halfway-train translate --held-out`), with NUMBERS translates those.
        The model runs in fp32. An fp32 checkpoint gives halfway-train's predictions exactly
        (tests/torch_round_trip.py). A 16-bit checkpoint holds NAME in fp16/bf16 (the working
        copies halfway-train computes with) and master.NAME in fp32: both load, but halfway-
        train computes in 16 bits and this model in fp32, so a prediction near a tie can
        differ (tiny model, 60 steps: 1 of 200 with either, fp16 and bf16).

What is the same as halfway-train (chapters/07_trainer/README.md):
  - data: the 13-token vocabulary, the seeded 80/20 split (split seed 0: the same 200 held-out
    numbers), padded batches, and the data order (a seeded shuffle per epoch), all drawn with
    the course's own RNG (common/python/halfway_task.py): step k sees the same 32 numbers;
  - model: nn.Transformer (d 128, 4 heads, 2+2 layers, feed-forward 2048, ReLU, post-LN,
    dropout 0.1) with one embedding for source and target scaled by sqrt(d_model), sinusoidal
    positions, dropout on the embedded sequences, a separate output layer
    (common/python/halfway_torch_model.py);
  - initialisation: the course's weights bit for bit (the same RNG and draw order; the
    embedding N(0, d^-1/2), --init seed: N(0, 1));
  - Adam (0.9, 0.98, eps 1e-9), Noam factor * d^-1/2 * min(k^-1/2, k w^-3/2) with the warmup
    half the run, global-norm clipping at 1.0, cross-entropy ignoring <pad>, batch 32, 1200 steps;
  - bf16: torch.autocast on the CPU (the parameters stay fp32: fp32 masters, as halfway-train).
What differs: the dropout masks (PyTorch's generator, seeded by --seed), and the order of
floating-point sums. fp16 is not offered: PyTorch 1.13 has no fp16 autocast on the CPU.

Exit code 77 (ctest's "Skipped") when torch cannot be imported; 2 for a bad option or checkpoint.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "common", "python"))

SIZES = {"tiny": dict(d_model=32, heads=2, d_ff=64, layers=1), "seed": dict(d_model=128, heads=4, d_ff=2048, layers=2)}
TIMING_WARMUP = 5  # steps left out of the median step time (first allocations, thread start-up)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=0, help="optimizer steps (default: 48 epochs = 1200 at batch 32)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=1, help="weights, data order, dropout")
    p.add_argument("--threads", type=int, default=0, help="torch (OpenMP) and OpenBLAS threads; 0: the libraries' default")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--size", choices=sorted(SIZES), default="seed")
    p.add_argument("--warmup", type=int, default=0, help="Noam warmup (default: half the run, as halfway-train)")
    p.add_argument("--lr-factor", type=float, default=0.25, help="Noam's factor")
    p.add_argument("--clip", type=float, default=1.0, help="global-norm clipping (0: off)")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--init", choices=["course", "seed"], default="course", help="embedding N(0, d^-1/2) or the seed's N(0, 1)")
    p.add_argument("--log", help="one JSON line per step (step, loss, lr, grad_norm, seconds)")
    p.add_argument("--json", action="store_true", help="print one JSON result line")
    p.add_argument("--load", metavar="DIR", help="evaluate a halfway-train checkpoint instead of training")
    p.add_argument("--held-out", action="store_true", help="with --load: print every held-out prediction")
    p.add_argument("--masters", action="store_true",
                   help="with --load: take the fp32 masters (master.NAME) of a 16-bit checkpoint, not its 16-bit weights")
    p.add_argument("numbers", nargs="*", type=int, help="with --load: numbers to translate")
    a = p.parse_args()
    bad = [f"--{k} {getattr(a, k)} (expected >= 1)" for k in ("batch",) if getattr(a, k) < 1]
    bad += [f"--{k} {getattr(a, k)} (expected >= 0)" for k in ("steps", "threads", "warmup") if getattr(a, k) < 0]
    if not 0 <= a.dropout < 1:
        bad.append(f"--dropout {a.dropout} (expected in [0, 1))")
    if not (a.lr_factor > 0 and math.isfinite(a.lr_factor)):
        bad.append(f"--lr-factor {a.lr_factor} (expected > 0)")
    if (a.held_out or a.numbers or a.masters) and not a.load:
        bad.append("--held-out, --masters and NUMBERS need --load DIR")
    if any(not 0 <= n <= 999 for n in a.numbers):
        bad.append(f"numbers {a.numbers} (expected 0..999)")
    if bad:
        p.error("; ".join(bad))
    return a


def noam(k, factor, d_model, warmup):
    """The rate of optimizer step k (from 1): kernels/optim/schedule.hpp's noam."""
    return factor * d_model ** -0.5 * min(k ** -0.5, k * warmup ** -1.5)


def greedy(model, numbers, torch, task):
    """Batched greedy decoding as Trainer::translate: one forward per output position (at most
    4), the first largest logit appended, a number finished at <eos>."""
    src, _, _, src_pad, _ = (torch.from_numpy(x) for x in task.make_batch(numbers))
    out = [[] for _ in numbers]
    done = [False] * len(numbers)
    with torch.no_grad():
        for t in range(1, 5):
            tgt_in = torch.full((len(numbers), t), task.PAD, dtype=torch.int64)
            for r, o in enumerate(out):
                seq = ([task.SOS] + o)[:t]
                tgt_in[r, :len(seq)] = torch.tensor(seq)
            logits = model(src, tgt_in, src_pad, tgt_in == task.PAD)
            best = logits[:, t - 1, :].float().argmax(dim=-1).tolist()  # ties: the first, as the C++
            for r in range(len(numbers)):
                if not done[r]:
                    out[r].append(best[r])
                    done[r] = best[r] == task.EOS
            if all(done):
                break
    return out


def evaluate(model, numbers, torch, task):
    """Exact match and token accuracy as Trainer::evaluate, plus the printed lines."""
    model.eval()
    got = greedy(model, numbers, torch, task)
    exact = tokens = correct = 0
    lines, failures = [], []
    for n, g in zip(numbers, got):
        want = task.target_tokens(n)
        exact += g == want
        tokens += len(want)
        correct += sum(1 for k, w in enumerate(want) if k < len(g) and g[k] == w)
        lines.append(f"{n} -> {task.words(g)}")
        if g != want:
            failures.append(f"{lines[-1]} (expected {task.words(want)})")
    return dict(count=len(numbers), exact=exact, exact_match=exact / len(numbers),
                token_accuracy=correct / tokens, lines=lines, failures=failures)


def print_eval(e):
    print(f"held-out: exact match {100 * e['exact_match']:.1f}% ({e['exact']}/{e['count']}), "
          f"token accuracy {100 * e['token_accuracy']:.1f}%")
    for line in e["lines"][:5]:
        print("  " + line)
    if e["failures"]:
        print(f"  failures ({len(e['failures'])}):")
        for line in e["failures"][:20]:
            print("    " + line)


def load_checkpoint(directory, masters, torch, model_module, read_safetensors):
    """The model of a halfway-train checkpoint (trainer.json + its safetensors file) with its
    weights: NAME (the run's precision, widened exactly to fp32) or, with masters, master.NAME
    where the checkpoint has fp32 masters. Raises ValueError with one readable line."""
    try:
        with open(os.path.join(directory, "trainer.json")) as f:
            info = json.load(f)
        m = info["model"]
        tensors, _ = read_safetensors(os.path.join(directory, info["tensors"]))
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"no readable halfway-train checkpoint in {directory} ({e})")
    if m["encoder_layers"] != m["decoder_layers"]:
        raise ValueError(f"{directory}: {m['encoder_layers']}+{m['decoder_layers']} layers (nn.Transformer here takes N+N)")
    model = model_module.Seq2Seq(vocab=m["vocab"], d_model=m["d_model"], heads=m["heads"], layers=m["encoder_layers"],
                                 d_ff=m["d_ff"], dropout=0.0, pre_ln=m["pre_ln"], max_length=m["max_length"])
    state, used = {}, set()
    for name, p in model.state_dict().items():
        key = "master." + name if masters and "master." + name in tensors else name
        if key not in tensors:
            raise ValueError(f"{directory}: tensor {name} is missing")
        if tuple(tensors[key].shape) != tuple(p.shape):
            raise ValueError(f"{directory}: tensor {key} has shape {list(tensors[key].shape)}, the model {list(p.shape)}")
        state[name] = tensors[key]
        used.add(key)
    model.load_state_dict(state)
    kinds = sorted({k.split(".")[0] + "." if k.startswith(("master.", "adam.")) else "weights" for k in used})
    return model, info, kinds


def main():
    a = parse_args()
    if a.threads > 0:  # before torch loads: OpenBLAS reads its count at start-up
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(a.threads)
    try:
        import torch
        from torch import nn
    except ImportError:  # pragma: no cover - depends on the machine
        print("pytorch_reference.py: expected torch (Debian: apt-get install python3-torch), found none", file=sys.stderr)
        return 77
    import halfway_task as task
    import halfway_torch_model as model_module
    from halfway_safetensors import read_safetensors
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    _, held_out = task.split_numbers(0)

    if a.load:
        try:
            model, info, kinds = load_checkpoint(a.load, a.masters, torch, model_module, read_safetensors)
        except ValueError as e:
            print(f"pytorch_reference.py: {e}", file=sys.stderr)
            return 2
        if a.numbers or a.held_out:
            model.eval()
            numbers = a.numbers or held_out
            for n, g in zip(numbers, greedy(model, numbers, torch, task)):
                print(f"{n} -> {task.words(g)}")
            return 0
        print(f"pytorch_reference.py: {a.load}: a {info['precision']} checkpoint at step {info['step']}, "
              f"loaded {', '.join(kinds)} into torch {torch.__version__} (fp32)")
        print_eval(evaluate(model, held_out, torch, task))
        return 0

    size = SIZES[a.size]
    torch.manual_seed(a.seed)  # dropout's masks (the weights come from the course's RNG)
    model = model_module.Seq2Seq(vocab=task.VOCAB, dropout=a.dropout, **size)
    model_module.init_like_course(model, a.seed, 1.0 if a.init == "seed" else 0.0)
    train, _ = task.split_numbers(0)
    order = task.DataOrder(train, a.batch, a.seed)
    steps = a.steps or 48 * order.per_epoch  # halfway-train's default
    warmup = a.warmup or max(1, steps // 2)
    d_model = size["d_model"]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9)
    loss_fn = nn.CrossEntropyLoss(ignore_index=task.PAD)
    params = list(model.parameters())
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16")
    print(f"pytorch_reference.py: {a.precision}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"model d {d_model}, {size['heads']} heads, {size['layers']}+{size['layers']} layers, ff {size['d_ff']} "
          f"({sum(p.numel() for p in params) / 1e6:.2f}M parameters), {steps} steps of batch {a.batch}, "
          f"Adam + Noam (factor {a.lr_factor:g}, warmup {warmup}), clip {a.clip or 'off'}, seed {a.seed}",
          file=sys.stderr if a.json else sys.stdout)
    log = open(a.log, "w") if a.log else None
    times, loss_avg, start, cpu_start = [], None, time.perf_counter(), time.process_time()
    model.train()
    for k in range(1, steps + 1):
        t0 = time.perf_counter()
        src, tgt_in, tgt_out, src_pad, tgt_pad = (torch.from_numpy(x) for x in task.make_batch(order.batch(k - 1)))
        lr = noam(k, a.lr_factor, d_model, warmup)
        for g in optimizer.param_groups:
            g["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            logits = model(src, tgt_in, src_pad, tgt_pad)
        loss = loss_fn(logits.float().reshape(-1, task.VOCAB), tgt_out.reshape(-1))
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, a.clip) if a.clip > 0 else torch.tensor(float("nan"))
        optimizer.step()
        value = loss.item()
        times.append(time.perf_counter() - t0)
        loss_avg = value if loss_avg is None else 0.95 * loss_avg + 0.05 * value  # halfway-train's average
        if not math.isfinite(value):
            print(f"pytorch_reference.py: training diverged at step {k} (loss {value})", file=sys.stderr)
            return 1
        if log:
            log.write(json.dumps({"step": k, "loss": value, "lr": lr, "grad_norm": float(norm),
                                  "seconds": time.perf_counter() - start}) + "\n")
        if k % 100 == 0 or k == steps:
            print(f"step {k}/{steps}: loss {loss_avg:.4f} (moving average), lr {lr:.2e}, "
                  f"{1e3 * statistics.median(times[-100:]):.1f} ms/step", file=sys.stderr)
    if log:
        log.close()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start  # cpu: all threads
    e = evaluate(model, held_out, torch, task)
    timed = times[TIMING_WARMUP:] if len(times) > 2 * TIMING_WARMUP else times
    result = dict(program="pytorch", precision=a.precision, threads=torch.get_num_threads(), steps=steps,
                  step_ms=1e3 * statistics.median(timed), wall_s=wall, cpu_ms=1e3 * cpu / steps, final_loss=loss_avg,
                  exact_match=e["exact_match"], token_accuracy=e["token_accuracy"], torch=torch.__version__)
    if a.json:
        print(json.dumps(result))
        return 0
    print(f"trained {steps} steps in {wall:.1f} s ({result['step_ms']:.1f} ms/step, median; cpu time {cpu:.1f} s), "
          f"final loss {loss_avg:.4f} (moving average)")
    print_eval(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
