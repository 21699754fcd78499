"""Atomic file writes: a crash or a kill never leaves a half-written state file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_text"]


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically and durably.

    The text goes to a temporary file in the same folder, is flushed and fsynced, then
    replaces ``path`` in one ``os.replace``: readers see the old file or the new one, never a
    part. The folder is created if missing.

    Parameters
    ----------
    path : str or PathLike
        Destination file.
    text : str
        Its full new content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
