#!/usr/bin/env python3
"""Chapter 05's PyTorch reference: Adam and AdamW as PyTorch 1.13 computes them.

    adam_reference.py export OUT.safetensors

Three tensors of mixed shapes (7x5, 13, 3x4x6), initialised from a fixed generator, are
updated for 200 steps by each of four optimizers: Adam, Adam with L2 weight decay 0.01,
AdamW (decoupled decay 0.01), AdamW with decay 0 (lr 1e-3, betas (0.9, 0.98), eps 1e-9,
the Transformer's). Every step's gradients come from the generator, with magnitudes from
1e-6 to 1 so that eps and the bias corrections matter. Written: for each optimizer
`<name>.grads.<i>` [200, numel] (the gradient sequence) and `<name>.params.<i>` [200, numel]
(the parameters after each step), and `init.<i>`. ch05_adam_torch_compare reads the file,
feeds the same gradients to the course's fused Adam and compares every step.

Exit code 77 (ctest's "Skipped") when torch cannot be imported.
"""
import os
import sys

try:
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    print("adam_reference.py: expected torch (Debian: apt-get install python3-torch), found none", file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common", "python"))
from halfway_safetensors import write_safetensors  # noqa: E402

SHAPES = [(7, 5), (13,), (3, 4, 6)]
STEPS = 200
CONFIGS = {
    "adam": (torch.optim.Adam, 0.0),
    "adam_l2": (torch.optim.Adam, 0.01),
    "adamw": (torch.optim.AdamW, 0.01),
    "adamw_nodecay": (torch.optim.AdamW, 0.0),
}


def export(path):
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(2024)
    init = [torch.randn(s, generator=gen, dtype=torch.float32) for s in SHAPES]
    out = {f"init.{i}": t.clone() for i, t in enumerate(init)}
    for k, (name, (cls, wd)) in enumerate(CONFIGS.items()):
        params = [torch.nn.Parameter(t.clone()) for t in init]
        opt = cls(params, lr=1e-3, betas=(0.9, 0.98), eps=1e-9, weight_decay=wd)
        grads = [torch.empty(STEPS, t.numel()) for t in init]
        after = [torch.empty(STEPS, t.numel()) for t in init]
        g_gen = torch.Generator().manual_seed(100 + k)
        for step in range(STEPS):
            for i, p in enumerate(params):
                mag = torch.pow(10.0, -6.0 * torch.rand(p.shape, generator=g_gen))
                p.grad = (torch.randn(p.shape, generator=g_gen) * mag).to(torch.float32)
                grads[i][step] = p.grad.reshape(-1)
            opt.step()
            for i, p in enumerate(params):
                after[i][step] = p.detach().reshape(-1)
        for i in range(len(init)):
            out[f"{name}.grads.{i}"] = grads[i]
            out[f"{name}.params.{i}"] = after[i]
    write_safetensors(path, out)


def main(argv):
    if len(argv) != 2 or argv[0] != "export":
        sys.exit("usage: adam_reference.py export OUT.safetensors")
    export(argv[1])


if __name__ == "__main__":
    main(sys.argv[1:])
