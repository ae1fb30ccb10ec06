#!/usr/bin/env python3
"""Chapter 03's PyTorch reference: the seed's encoder-decoder built from torch.nn.

    pytorch_reference.py export OUT.safetensors [--pre-ln]
        Builds the model (d_model 128, 4 heads, 2+2 layers, feed-forward 2048, ReLU,
        post-LN, final LayerNorms; plus our embedding scaled by sqrt(d_model), sinusoidal
        positions and the output layer), runs one forward and backward in fp32 with dropout
        off on a fixed batch, and writes weights, inputs, logits, loss and every gradient to
        a safetensors file (an 8-byte little-endian header length, a JSON header, raw
        little-endian data). ch03_torch_compare reads it.

    pytorch_reference.py bench --layer encoder|decoder [--batch 32 --length 10 ...]
        Times forward+backward of one nn.TransformerEncoderLayer or DecoderLayer in
        training mode and prints one JSON line {"layer":..., "median_ms":...}: what
        ch03_bench compares with.

Exit code 77 (ctest's "Skipped") when torch cannot be imported.
"""
import argparse
import json
import os
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - depends on the machine
    print("pytorch_reference.py: expected torch (Debian: apt-get install python3-torch), found none",
          file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common", "python"))
from halfway_safetensors import write_safetensors  # noqa: E402
from halfway_torch_model import Seq2Seq  # noqa: E402  (the model, shared with chapter 07)


def export(args):
    torch.manual_seed(1234)
    model = Seq2Seq(pre_ln=args.pre_ln)
    with torch.no_grad():  # the embedding at N(0, 1/sqrt(D)), as our init
        model.embedding.weight.normal_(0.0, model.d_model ** -0.5)
        for name, p in model.named_parameters():  # nonzero biases and LN shifts, to test them
            if p.dim() == 1:
                p.add_(0.02 * torch.randn_like(p))
    model.train()  # dropout is 0: training mode only makes PyTorch take its general path
    pad, vocab, b, ls, lt = 0, 13, 8, 9, 8
    g = torch.Generator().manual_seed(99)
    src = torch.randint(1, vocab, (b, ls), generator=g)
    tgt_in = torch.randint(1, vocab, (b, lt), generator=g)
    tgt_out = torch.randint(1, vocab, (b, lt), generator=g)
    src_lens = [9, 7, 5, 9, 3, 8, 1, 6]
    tgt_lens = [8, 6, 4, 8, 3, 7, 1, 5]
    for i in range(b):
        src[i, src_lens[i]:] = pad
        tgt_in[i, tgt_lens[i]:] = pad
        tgt_out[i, tgt_lens[i]:] = pad
    src_pad, tgt_pad = src == pad, tgt_in == pad
    logits = model(src, tgt_in, src_pad, tgt_pad)
    loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), tgt_out.reshape(-1),
                                       ignore_index=pad, label_smoothing=0.1)
    loss.backward()
    out = {"src": src, "tgt_in": tgt_in, "tgt_out": tgt_out,
           "src_pad": src_pad.to(torch.uint8), "tgt_pad": tgt_pad.to(torch.uint8),
           "logits": logits, "loss": loss.reshape(1)}
    for name, p in model.named_parameters():
        out["param." + name] = p
        out["grad." + name] = p.grad
    write_safetensors(args.out, out)
    print(f"pytorch_reference.py: wrote {args.out} ({len(out)} tensors, loss {loss.item():.6f}, "
          f"torch {torch.__version__})")


def bench(args):
    torch.manual_seed(0)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    kw = dict(d_model=128, nhead=4, dim_feedforward=2048, dropout=0.1, batch_first=True)
    if args.layer == "encoder":
        layer = nn.TransformerEncoderLayer(**kw)
    else:
        layer = nn.TransformerDecoderLayer(**kw)
    layer.train()
    b, l = args.batch, args.length
    x = torch.randn(b, l, 128, requires_grad=True)
    mem = torch.randn(b, l, 128, requires_grad=True)
    w = torch.randn(b, l, 128)
    pad = torch.zeros(b, l, dtype=torch.bool)
    causal = torch.triu(torch.ones(l, l, dtype=torch.bool), diagonal=1)

    def step():
        if args.layer == "encoder":
            y = layer(x, src_key_padding_mask=pad)
        else:
            y = layer(x, mem, tgt_mask=causal, tgt_key_padding_mask=pad, memory_key_padding_mask=pad)
        (y * w).sum().backward()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({"layer": args.layer, "batch": b, "length": l, "threads": torch.get_num_threads(),
                      "median_ms": 1e3 * times[len(times) // 2], "min_ms": 1e3 * times[0],
                      "torch": torch.__version__}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write the reference forward and backward")
    e.add_argument("out")
    e.add_argument("--pre-ln", action="store_true")
    bch = sub.add_parser("bench", help="time one layer's forward+backward")
    bch.add_argument("--layer", choices=["encoder", "decoder"], required=True)
    bch.add_argument("--batch", type=int, default=32)
    bch.add_argument("--length", type=int, default=10)
    bch.add_argument("--warmup", type=int, default=3)
    bch.add_argument("--repeats", type=int, default=20)
    bch.add_argument("--threads", type=int, default=0,
                     help="torch.set_num_threads (ch03_bench passes its own OpenMP count); 0: PyTorch's default")
    args = parser.parse_args()
    export(args) if args.command == "export" else bench(args)


if __name__ == "__main__":
    main()
