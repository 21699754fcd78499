"""Per charge point passwords (OCPP security profile 1: HTTP Basic auth), kept in the state folder.

The file is ``<state_dir>/ocpp/passwords.json`` (``{"CA-322": "..."}``, mode 0600). A charge
point without a password gets one on first run (32 hex characters, within the 1.6 security
whitepaper's 16..40 bytes ``AuthorizationKey``). The state folder is never in the repository.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Iterable

from engine.errors import FieldError
from engine.files import atomic_write_text, state_dir

__all__ = ["passwords_path", "load_passwords", "ensure_passwords"]


def passwords_path(root: str | os.PathLike[str] | None = None) -> Path:
    return state_dir(root) / "ocpp" / "passwords.json"


def load_passwords(root: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The stored passwords ({} when the file does not exist)."""
    p = passwords_path(root)
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise FieldError(str(p), f"cannot read the charge point passwords ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise FieldError(str(p), "must map charge point ids to password strings")
    return data


def ensure_passwords(cp_ids: Iterable[str], root: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Passwords of ``cp_ids``, generating and saving the missing ones."""
    have = load_passwords(root)
    missing = [cp for cp in cp_ids if cp not in have]
    if missing:
        for cp in missing:
            have[cp] = secrets.token_hex(16)
        p = passwords_path(root)
        atomic_write_text(p, json.dumps(have, indent=1, sort_keys=True) + "\n")
        os.chmod(p, 0o600)
    return have
