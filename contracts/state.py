"""Where the chain client keeps its runtime state, and atomic JSON files.

Everything lives under the folder named by the environment variable ``EV_STATE_DIR``
(default: ``<repo>/state``, git-ignored): the compiled-contract cache in
``chain/build/`` and the recorded deployments in ``chain/deployments.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.files import atomic_write_text, state_dir

__all__ = ["chain_dir", "read_json", "write_json_atomic"]


def chain_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """``<state>/chain``, created if missing."""
    path = state_dir(override) / "chain"  # the one state folder (engine.files.state_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_json(path: Path, default: Any) -> Any:
    """Parsed JSON of ``path``, or ``default`` when the file is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return default


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so that a crash never leaves a half-written file."""
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
