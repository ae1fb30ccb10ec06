#!/usr/bin/env python3
"""Chapter 06's PyTorch reference: torch.nn.utils.clip_grad_norm_ (1.13) on gradient sets.

    torch_clip_reference.py OUT.safetensors

For each set: a list of gradient tensors of mixed shapes with values spanning 1e-8..1e4
(log-uniform magnitudes, random signs), max_norm chosen to clip or not, the total norm
clip_grad_norm_ returns and the clipped gradients. Writes, per set s, `s.in` (the
gradients flattened and concatenated in order, as a parameter store lays them out), `s.out`
(the same after clipping), `s.norm`, `s.max_norm` and `s.true_norm` (the norm of the
same fp32 values in fp64, to measure PyTorch's own rounding) to a safetensors file that
ch06_torch_compare reads. Runs on 1 thread (the comparison is about values, not speed).

Exit code 77 (ctest's "Skipped") when torch cannot be imported.
"""
import json
import struct
import sys

try:
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    print("torch_clip_reference.py: expected torch (Debian: apt-get install python3-torch), found none",
          file=sys.stderr)
    sys.exit(77)


def write_safetensors(path, tensors):
    """An 8-byte little-endian header length, a JSON header, the raw little-endian data."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        wide = t.dtype == torch.float64
        data = t.detach().contiguous().cpu().numpy().astype("<f8" if wide else "<f4").tobytes()
        header[name] = {"dtype": "F64" if wide else "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def gradients(gen, shapes, lo, hi):
    out = []
    for shape in shapes:
        n = 1
        for d in shape:
            n *= d
        e = lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)
        sign = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0).to(torch.float64)
        out.append((sign * torch.pow(10.0, e)).to(torch.float32).reshape(shape))
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(606)
    mixed = [(3, 5), (17,), (128, 64), (1,), (7, 7, 7), (2048,), (13, 128)]
    # (name, shapes, exponent range, max_norm as a multiple of the true norm, or absolute)
    sets = [
        ("mixed_clip", mixed, (-8, 4), ("times", 0.5)),
        ("mixed_noclip", mixed, (-8, 4), ("times", 2.0)),
        ("tiny_noclip", mixed, (-8, -6), ("abs", 1.0)),
        ("large_clip", mixed, (2, 4), ("abs", 1.0)),
        ("big_tensor_clip", [(300001,), (5, 3)], (-8, 4), ("times", 0.01)),
        ("just_above", [(1000,)], (-2, 0), ("times", 0.999)),
        ("just_below", [(1000,)], (-2, 0), ("times", 1.001)),
    ]
    out = {}
    for name, shapes, (lo, hi), (how, value) in sets:
        grads = gradients(gen, shapes, lo, hi)
        params = [torch.zeros_like(g, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        true_norm = torch.cat([g.reshape(-1).double() for g in grads]).norm().item()
        max_norm = float(torch.tensor(value * true_norm if how == "times" else value, dtype=torch.float32))
        total = torch.nn.utils.clip_grad_norm_(params, max_norm)
        out[name + ".in"] = torch.cat([g.reshape(-1) for g in grads])
        out[name + ".out"] = torch.cat([p.grad.reshape(-1) for p in params])
        out[name + ".norm"] = total.reshape(1).float()
        out[name + ".max_norm"] = torch.tensor([max_norm], dtype=torch.float32)
        out[name + ".true_norm"] = torch.tensor([true_norm], dtype=torch.float64)
    write_safetensors(sys.argv[1], out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
