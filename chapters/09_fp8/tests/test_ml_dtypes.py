#!/usr/bin/env python3
"""The fp8 conversions against ml_dtypes (JAX's numpy types), a second independent reference.

    test_ml_dtypes.py PROGRAM WORKDIR

Runs `PROGRAM --dump WORKDIR/conversions.bin` (ch09_fp8: a strided sample of all floats,
and every fp8 value, midpoint and overflow threshold with its float neighbours) and checks
each conversion against ml_dtypes' float8_e4m3fn and float8_e5m2:
- not saturating: numpy's astype, which rounds to nearest even and overflows to NaN (e4m3)
  or inf (e5m2), as __NV_NOSAT;
- saturating: astype after clipping to +-max, which is what __NV_SATFINITE rounds to.
NaN is compared as NaN (CUDA drops a NaN's sign, ml_dtypes keeps it); every other result
bit for bit. Exits 77 (skipped) where numpy or ml_dtypes is missing.
"""
import pathlib
import subprocess
import sys

try:
    import ml_dtypes
    import numpy as np
except ImportError as err:
    print(f"test_ml_dtypes.py: skipped: {err} (pip install ml_dtypes)")
    sys.exit(77)

FORMATS = {"e4m3": (ml_dtypes.float8_e4m3fn, 448.0), "e5m2": (ml_dtypes.float8_e5m2, 57344.0)}


def is_nan(codes: np.ndarray, name: str) -> np.ndarray:
    mag = codes & 0x7F
    return mag == 0x7F if name == "e4m3" else mag > 0x7C


def main() -> int:
    program, workdir = sys.argv[1], pathlib.Path(sys.argv[2])
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "conversions.bin"
    subprocess.run([program, "--dump", str(path)], check=True, stdout=subprocess.DEVNULL)
    raw = path.read_bytes()
    n = int(np.frombuffer(raw[:4], dtype="<u4")[0])
    records = np.frombuffer(raw[4:4 + 8 * n], dtype=[("x", "<f4"), ("codes", "u1", (4,))])
    decoded = np.frombuffer(raw[4 + 8 * n:], dtype="<f4").reshape(2, 256)
    x = records["x"]
    failures = 0
    for column, (name, saturating) in enumerate([("e4m3", True), ("e4m3", False), ("e5m2", True), ("e5m2", False)]):
        dtype, fmax = FORMATS[name]
        ours = records["codes"][:, column]
        source = np.clip(x, -fmax, fmax) if saturating else x
        with np.errstate(all="ignore"):
            ref = source.astype(dtype).view(np.uint8)
        both_nan = is_nan(ours, name) & is_nan(ref, name)
        bad = ~both_nan & (ours != ref)
        label = f"{name} {'satfinite' if saturating else 'nosat'}"
        print(f"{label}: {n} floats, {int(bad.sum())} mismatches with ml_dtypes {ml_dtypes.__version__}")
        for i in np.flatnonzero(bad)[:5]:
            print(f"  float {x[i]!r} (0x{x[i:i + 1].view('<u4')[0]:08X}): ours 0x{ours[i]:02X}, ml_dtypes 0x{ref[i]:02X}")
        failures += int(bad.sum())
    for row, name in enumerate(["e4m3", "e5m2"]):
        ref = np.arange(256, dtype=np.uint8).view(FORMATS[name][0]).astype(np.float32)
        ours = decoded[row]
        bad = ~(np.isnan(ours) & np.isnan(ref)) & (ours.view("<u4") != ref.view("<u4"))
        print(f"{name} to float: 256 bytes, {int(bad.sum())} mismatches")
        failures += int(bad.sum())
    if n < 1_000_000:
        print(f"expected a sample of over a million floats, found {n}")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
