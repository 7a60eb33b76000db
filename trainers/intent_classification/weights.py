"""The weights file, in the safetensors format, written byte-for-byte deterministically.

torch.save stamps every archive with a random serialization id (and the file's name), so two
identical state dicts give different bytes; safetensors is a plain header plus raw tensor data,
which makes "same training ⇒ same sha256" checkable. Loadable with `safetensors.torch.load_file`
or with `load` below (no extra dependency).
"""

import ctypes
import hashlib
import json
import struct
import sys
from pathlib import Path

import torch

_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
}
_BY_NAME = {name: dtype for dtype, name in _DTYPES.items()}


def to_bytes(state: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    if sys.byteorder != "little":
        raise RuntimeError("safetensors data is little-endian; this host is not")
    header: dict[str, object] = {"__metadata__": {"format": "pt", **(metadata or {})}}
    chunks, offset = [], 0
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        if tensor.dtype not in _DTYPES:
            raise ValueError(f"{name}: dtype {tensor.dtype} is not supported")
        data = raw_bytes(tensor)
        header[name] = {
            "dtype": _DTYPES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # the format aligns tensor data to 8 bytes
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks)


def raw_bytes(tensor: torch.Tensor) -> bytes:
    """A tensor's elements as bytes, in memory order. Copies straight from the data pointer:
    without numpy, torch's own route (bytes(storage)) goes element by element and takes seconds."""
    tensor = tensor.detach().to("cpu").contiguous()
    if tensor.numel() == 0:
        return b""
    return ctypes.string_at(tensor.data_ptr(), tensor.numel() * tensor.element_size())


def load(path: Path) -> dict[str, torch.Tensor]:
    blob = path.read_bytes()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_len])
    header.pop("__metadata__", None)
    body = memoryview(blob)[8 + header_len :]
    state = {}
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        dtype = _BY_NAME[entry["dtype"]]
        tensor = (
            torch.frombuffer(bytearray(body[start:end]), dtype=dtype)
            if end > start
            else (torch.empty(0, dtype=dtype))
        )
        state[name] = tensor.reshape(entry["shape"])
    return state


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
