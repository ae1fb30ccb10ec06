#!/usr/bin/env python3
"""Chapter 05: where the course's Adam and PyTorch 1.13's part in the last bit.

    /usr/bin/python3 chapters/05_master_weights/adam_rounding.py

Runs torch.optim.Adam / AdamW (lr 1e-3, betas (0.9, 0.98), eps 1e-9; weight decay 0, L2 0.01,
decoupled 0.01) for 50 steps on 65,536 weights, gradients from 1e-6 to 1. After every step it
recomputes that step in fp32 with numpy, four ways, from PyTorch's own state before the step:
the course's former order w - s * (m / d) or PyTorch's w + ((-s) * m) / d, each with every
product and sum rounded separately (the course) or with a fused multiply-add in the L2 add,
exp_avg and exp_avg_sq (PyTorch's vectorised kernels on a CPU with FMA). It prints how many
new weights differ from PyTorch's and the largest difference in ulps (weights of magnitude
1/16 and above). Exit code 77 when torch cannot be imported.
"""
import math
import sys

import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    print("adam_rounding.py: expected torch (Debian: apt-get install python3-torch), found none", file=sys.stderr)
    sys.exit(77)

F = np.float32
N, STEPS, LR, B1, B2, EPS = 1 << 16, 50, 1e-3, 0.9, 0.98, 1e-9


def fma(a, b, c):
    """a * b + c rounded once: the product is exact in double (24 + 24 bits), the sum
    rounded to double and then to float (a double rounding, wrong only in rare ties)."""
    return (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(F)


def adam_step(w, g, m, v, t, wd, decoupled, fused, torch_order):
    if wd:
        if decoupled:
            w = w * F(1 - LR * wd)
        else:
            g = fma(w, np.full_like(w, F(wd)), g) if fused else g + F(wd) * w
    m = m * F(B1)
    m = fma(g, np.full_like(g, F(1 - B1)), m) if fused else m + F(1 - B1) * g
    v = v * F(B2)
    v = fma(F(1 - B2) * g, g, v) if fused else v + (F(1 - B2) * g) * g
    d = np.sqrt(v) / F(math.sqrt(1 - B2 ** t)) + F(EPS)
    s = F(LR / (1 - B1 ** t))
    return w + ((-s) * m) / d if torch_order else w - s * (m / d)


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(7)
    ways = [(fused, order) for fused in (False, True) for order in (False, True)]
    for name, cls, wd in [("Adam", torch.optim.Adam, 0.0), ("Adam L2", torch.optim.Adam, 0.01),
                          ("AdamW", torch.optim.AdamW, 0.01)]:
        p = torch.nn.Parameter(torch.randn(N, generator=gen))
        opt = cls([p], lr=LR, betas=(B1, B2), eps=EPS, weight_decay=wd)
        differ = {k: 0 for k in ways}
        ulps = {k: 0.0 for k in ways}
        for t in range(1, STEPS + 1):
            g = torch.randn(N, generator=gen) * torch.pow(10.0, -6.0 * torch.rand(N, generator=gen))
            st = opt.state[p]
            w0 = p.detach().numpy().copy()
            m0 = st["exp_avg"].numpy().copy() if st else np.zeros(N, F)
            v0 = st["exp_avg_sq"].numpy().copy() if st else np.zeros(N, F)
            p.grad = g.clone()
            opt.step()
            ref = p.detach().numpy()
            big = np.abs(ref) >= 1.0 / 16
            for fused, order in ways:
                w1 = adam_step(w0, g.numpy(), m0, v0, t, wd, cls is torch.optim.AdamW, fused, order)
                differ[(fused, order)] += int(np.sum(w1 != ref))
                u = np.abs(w1.astype(np.float64) - ref)[big] / np.spacing(np.abs(ref[big]))
                ulps[(fused, order)] = max(ulps[(fused, order)], float(u.max()))
        for fused, order in ways:
            print(f"{name:8s} {'w + ((-s) m) / d' if order else 'w - s (m / d)   '}  "
                  f"{'fused multiply-adds' if fused else 'separate roundings '}: "
                  f"{differ[(fused, order)]:6d} of {STEPS * N} new weights differ from PyTorch's "
                  f"({100.0 * differ[(fused, order)] / (STEPS * N):.3f}%), at most {ulps[(fused, order)]:.0f} ulp")


if __name__ == "__main__":
    main()
