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

from engine.files import atomic_write_text

__all__ = ["state_dir", "chain_dir", "read_json", "write_json_atomic"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def state_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The runtime state folder: ``override``, else ``$EV_STATE_DIR``, else ``<repo>/state``."""
    if override is not None:
        return Path(override)
    env = os.environ.get("EV_STATE_DIR", "").strip()
    return Path(env) if env else REPO_ROOT / "state"


def chain_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """``<state>/chain``, created if missing."""
    path = state_dir(override) / "chain"
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
