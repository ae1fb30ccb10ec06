"""Shared by the training figures (plots/ch04_scaling.py, plots/ch06_grad_norm.py): the
exponential average the programs print as a run's "smoothed" loss."""


def smooth(values, weight=0.1):
    """avg_0 = v_0, avg_k = (1 - weight) avg_(k-1) + weight v_k."""
    out, avg = [], None
    for v in values:
        avg = v if avg is None else (1 - weight) * avg + weight * v
        out.append(avg)
    return out
