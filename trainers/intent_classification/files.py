"""Atomic file writes: a reader or a restarted run sees the old file or the new one, never half."""

import os
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    # The rename itself is only durable once the directory entry is flushed too.
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(directory: Path) -> None:
    """Drops the temporaries a killed writer left behind; they are never read."""
    for leftover in directory.glob(".*.tmp-*"):
        leftover.unlink(missing_ok=True)
