"""Safetensors files and PyTorch tensors, for the course's reference scripts
(chapters/*/pytorch_reference.py, chapters/05_master_weights/adam_reference.py): an 8-byte
little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then the
raw little-endian data. common/safetensors.hpp reads what write_safetensors writes;
read_safetensors reads the C++ side's files (the trainer's checkpoints).

Scripts import it with `sys.path.insert(0, <repo>/common/python)`.
"""
import json
import struct

import numpy as np
import torch

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}
# Reading: the numpy type of each dtype's bytes; F16 and BF16 become float32 (bf16 through
# its bits: a bf16 is the top half of a float32).
_NUMPY = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "I32": "<i4", "U8": "u1", "F16": "<f2", "BF16": "<u2"}


def write_safetensors(path, tensors):
    """tensors: {name: torch.Tensor} (dtypes in DTYPES), written in the dict's order."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # align the data to 8 bytes, as the format recommends
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """{name: torch.Tensor} of a safetensors file, plus its "__metadata__" dict (or {}) as the
    second value. F16 and BF16 tensors are returned as float32 (exactly). A file that is not
    safetensors, or a dtype outside _NUMPY, raises ValueError with one readable line."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: not a safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header of {n} bytes in a file of {len(data)}")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    body, out = data[8 + n:], {}
    for name, h in header.items():
        dtype = h["dtype"]
        if dtype not in _NUMPY:
            raise ValueError(f"{path}: tensor {name} has dtype {dtype}, expected one of {sorted(_NUMPY)}")
        lo, hi = h["data_offsets"]
        a = np.frombuffer(body[lo:hi], dtype=_NUMPY[dtype]).reshape(h["shape"])
        if dtype == "F16":
            a = a.astype(np.float32)
        elif dtype == "BF16":
            a = (a.astype(np.uint32) << np.uint32(16)).view(np.float32)
        out[name] = torch.from_numpy(a.copy())
    return out, meta
